raise RuntimeError("init failed on purpose")
