"""diffhost osc: the OSC bridge (python-osc parsing, one UDP socket, replies to subscribers).

    server.py       OscServer / OscConfig: the socket, the receive thread, start/stop
    dispatcher.py   datagram -> messages -> handler; every failure becomes /diffhost/error
    handlers.py     what each address does, in Session calls
    replies.py      session events -> OSC for subscribers and the job's origin
    messages.py     outgoing addresses and typed encoding
    args.py         argument checks with clear errors
    paths.py        files a message may name (allowed folders, symlinks resolved)
    access.py       who may send (loopback; allow-list on open binds)
    subscribers.py  the listener set
    client.py       a small client and `python -m diffhost.osc.client`

The address space is documented in docs/osc.md.
"""
