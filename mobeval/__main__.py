from mobeval.cli import app

app()
