from riskml.cli import app

app(prog_name="riskml")
