"""One adapter per input format; each turns a raw file into canonical events."""
