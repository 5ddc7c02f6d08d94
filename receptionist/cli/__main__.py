from receptionist.cli import main

# Guarded: a process spawned by multiprocessing imports this module again (as `__mp_main__`).
if __name__ == "__main__":
    main()
