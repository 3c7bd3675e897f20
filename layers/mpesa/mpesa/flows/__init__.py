"""One package per money flow: flows/<name>/ holds its request, initiation, callbacks and resolution."""
