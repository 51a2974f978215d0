"""Task kinds: what an item is, what a runner is asked, and how a response is scored."""
