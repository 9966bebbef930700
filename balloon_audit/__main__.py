from balloon_audit.cli import run

run()
