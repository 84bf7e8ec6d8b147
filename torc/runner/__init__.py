"""The worker side of torc: runs claimed jobs as local processes and reports their results."""
