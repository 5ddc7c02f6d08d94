"""What every local server here shares: started by `start()` or `with`, stopped by `stop()`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self


class LocalServer(ABC):
    @abstractmethod
    def start(self) -> object: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
