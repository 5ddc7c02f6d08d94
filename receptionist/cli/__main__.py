from receptionist.cli import main

main()
