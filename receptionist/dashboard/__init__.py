"""The dashboard: server-rendered pages for owners, members and admins (routes in `routes.py`)."""

from receptionist.dashboard.routes import router

__all__ = ["router"]
