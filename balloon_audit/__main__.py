from balloon_audit.cli import app

app(prog_name="balloon-audit")
