"""Traces of a program's file I/O: recorded (strace), imported (block traces, fio iologs), replayed with fio."""
