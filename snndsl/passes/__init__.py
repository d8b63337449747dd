"""The compiler passes, one file each; manager.py runs them in order."""
