"""Rules: the immutable tree, its text, JSON and Python forms, and the engines that evaluate it."""
