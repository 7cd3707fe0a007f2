"""`mnistlab serve`: a draw-a-digit web app over a trained run (needs the `serve` extra: fastapi, uvicorn)."""
