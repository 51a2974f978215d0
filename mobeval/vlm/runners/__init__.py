"""Vision-language runners (hybrid encoder + llama.cpp, llama.cpp mtmd, ...); the seam is base.py."""
