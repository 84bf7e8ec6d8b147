"""The worker side of torc: runs claimed jobs as local processes and reports their results."""

#: The logger of a worker's line per job start and end: in its log file always, on stderr only at
#: debug level (a terminal scrolling two lines per job slows a worker of short jobs and buries the rest).
PER_JOB_LOGGER = "torc.runner.jobs"
