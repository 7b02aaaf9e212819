# The two commands of the README's quick start. Both install what is missing first.
.PHONY: run test deps build release fuzz

deps:
	@scripts/install-deps.sh

# Run the gateway on its embedded defaults (RTMP :1935, HTTP :8080, data/ for state).
run: deps
	swift run -c release livegate serve

# Run the whole test suite (unit, end-to-end with real ffmpeg, hostile peers).
# PostgreSQL for the store and API suites is started on 127.0.0.1:55432 by scripts/start-postgres.sh.
test: deps
	scripts/run-tests.sh

build:
	swift build

release:
	swift build -c release

# Coverage-guided fuzzing of the RTMP parser path; SECONDS defaults to 60.
fuzz:
	fuzz/run.sh $${SECONDS:-60}
