x = "café ÿþ"
