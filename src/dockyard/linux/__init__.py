"""OS adapters: thin, typed wrappers over Linux system calls and filesystem primitives."""
