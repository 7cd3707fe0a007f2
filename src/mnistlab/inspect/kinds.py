"""The figures `inspect` draws and `report` embeds, in the order both show them; torch-free for the parser's choices."""

WHAT = ("curves", "filters", "featuremaps", "weights", "probs", "confusion", "errors", "summary", "attribution", "embedding")
