"""Start the chat app: `python run.py --help` lists the flags."""
from app.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
