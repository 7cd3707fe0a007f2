"""`mnistlab serve RUN_DIR`: start the draw-a-digit web app on a local port and print its URL."""
from __future__ import annotations

import argparse
import socket

from ..clitools import add_command, bounded, data_options, device_option, pct, read_options, say, verify_option
from ..data import load_dataset
from ..errors import UserError
from ..train import load_run
from ..train.finetune import FineTune, finetune
from ..train.run import default_run_dir, reserve_out_dir

IDLE_SECONDS = 5  # an idle keep-alive connection is closed after this
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one); a busy or bad address is a user error."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port or --host") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(app, log_level: str = "warning", idle: float = IDLE_SECONDS):
    """A uvicorn server for `app`; run it with `.run(sockets=[listen(...)])`, stop it with `.should_exit = True`.

    A connection that sends no complete request within `idle` seconds (idle keep-alive, or headers sent
    halfway) is closed, so slow clients cannot hold the server's connections (see `protocol`).
    """
    # uvicorn: the optional serve extra
    import uvicorn

    from .protocol import HEADER_LIMIT, protocol

    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False, server_header=False, http=protocol(idle),
                                         timeout_keep_alive=max(1, int(idle)), h11_max_incomplete_event_size=HEADER_LIMIT))


def cmd_serve(args: argparse.Namespace) -> dict:
    try:
        # fastapi: the optional serve extra
        from .app import create_app
    except ImportError as exc:
        raise UserError(f"mnistlab serve needs fastapi and uvicorn ({exc.name} is missing): "
                        f"pip install 'mnistlab[serve]'") from None

    run = load_run(args.run_dir, args.device, verify=args.verify)
    app = create_app(run, allowed_hosts=list(LOOPBACK) if args.host in LOOPBACK else None,
                     dataset=args.dataset, data_dir=args.data_dir, read=read_options(args), digits_dir=args.digits)
    server = make_server(app)
    sock = listen(args.host, args.port)
    url = url_of(sock)
    kind = "CNN" if run.model.is_cnn else "FFN"
    say(args, f"serving {args.run_dir} ({kind} '{run.model.config.spec}') at {url}",
        f"API schema: {url}openapi.json; press Ctrl+C to stop",
        f"\"wrong? it is a N\" saves drawings into {args.digits}; `mnistlab finetune {args.run_dir} {args.digits}` learns them")
    if run.train.get("augment", "none") == "none":
        say(args, "tip: for reading people's digits, serve a run of `mnistlab train --recipe robust`")
    if args.host not in LOOPBACK:
        say(args, f"warning: listening on {args.host}: other machines on your network can reach this server")
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down cleanly and re-raised Ctrl+C: for a server that is the normal way to stop
    finally:
        sock.close()
    say(args, "server stopped")
    return {"url": url, "run_dir": str(args.run_dir)}


def cmd_finetune(args: argparse.Namespace) -> dict:
    out = reserve_out_dir(args.out or default_run_dir())
    base = load_dataset(args.dataset, args.data_dir)
    tuned, result = finetune(args.run_dir, args.digits, base, FineTune(args.mix, epochs=args.epochs, lr=args.lr,
                                                                      seed=args.seed, device=args.device))
    tuned.save(out)
    b, a = result["before"], result["after"]
    say(args, f"fine-tuned {args.run_dir} on your {result['n_digits']} digits (each seen {result['repeat']}x per epoch) "
              f"mixed with {result['mixed_with']:,} {base.name} training images",
        f"your digits:     {pct(b['digits'])} -> {pct(a['digits'])}",
        f"{base.name} test set: {pct(b['mnist'])} -> {pct(a['mnist'])}", f"run saved to {out}",
        f"next: mnistlab serve {out} --digits {args.digits}")
    return {"run_dir": str(out), **result}


def register(subparsers, common) -> None:
    tune = add_command(subparsers, "finetune", cmd_finetune, common, help="learn your own digits (saved by serve) without "
                                                                          "forgetting MNIST",
                       description="Fine-tune a run on a folder of your digits (DIGITS/<class>/*.png, as `mnistlab serve` "
                                   "saves them) mixed with MNIST training images; prints the accuracy on your digits and "
                                   "on the MNIST test set, before and after.")
    tune.add_argument("run_dir", help="the run to start from")
    tune.add_argument("digits", help="folder of your digits, DIGITS/<class>/*.png")
    tune.add_argument("--mix", type=bounded(int, 0, 60_000), default=FineTune.mix,
                      help=f"MNIST training images mixed in; yours make a tenth of the mix (default: {FineTune.mix})")
    tune.add_argument("--epochs", type=bounded(float, 0.01, 100), default=FineTune.epochs,
                      help=f"passes over the mix (default: {FineTune.epochs:g})")
    tune.add_argument("--lr", type=bounded(float, 1e-7, 1.0), default=FineTune.lr, help=f"peak learning rate (default: {FineTune.lr:g})")
    tune.add_argument("--seed", type=bounded(int, 0, 2**32 - 1), default=FineTune.seed, help=f"seed (default: {FineTune.seed})")
    tune.add_argument("--out", help="run directory to write (default: runs/<date>-<time>)")
    tune.add_argument("--dataset", default="mnist", help="the data set mixed in and tested on (default: mnist)")
    data_options(tune, formats=False, dataset=False)
    device_option(tune, "auto")

    parser = add_command(subparsers, "serve", cmd_serve, common, help="draw digits in the browser and watch the model",
                         description="Start a local web app: draw a digit and see the 28x28 input, the prediction, "
                                     "the probabilities and the feature maps of this run's model, live.")
    parser.add_argument("run_dir", help="a run directory written by mnistlab train")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=bounded(int, 0, 65535), default=8000, help="port (default: 8000; 0 picks a free one)")
    device_option(parser, "cpu")
    verify_option(parser)
    parser.add_argument("--dataset", help="test images for the confusion and mistakes figures from another registered "
                                          "set (default: the run's)")
    data_options(parser, dataset=False)
    parser.add_argument("--digits", default="my-digits", metavar="DIR",
                        help="folder where \"wrong? it is a N\" saves your drawings, DIR/<class>/*.png, for `mnistlab "
                             "finetune` (default: ./my-digits)")
