"""Remote workers: ``torc run`` workers started on SSH hosts by ``torc remote``.

Users with a few workstations or cloud VMs and no scheduler list them per workflow; ``torc remote
run`` starts one detached worker on each over SSH, and the server's atomic claims share the work.

* :mod:`~torc.remote.hosts`: the ``[user@]host[:port]`` worker addresses and worker files;
* :mod:`~torc.remote.ssh`: connections with paramiko, honouring ``~/.ssh/config``, keys, the agent
  and known_hosts;
* :mod:`~torc.remote.fanout`: one operation on many hosts at once, one result per host;
* :mod:`~torc.remote.workers`: what runs on a host: start, status, stop, collect and delete logs.

Failures a user can act on are :class:`RemoteError`, already phrased for them; a failing host never
stops the others.
"""


class RemoteError(Exception):
    """A failure of a remote operation, in words for the user (the host is named by the caller)."""
