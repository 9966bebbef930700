from balloon_audit.launcher import run

run()
