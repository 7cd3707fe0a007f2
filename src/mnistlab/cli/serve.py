"""`mnistlab serve RUN_DIR`: start the draw-a-digit web app on a local port and print its URL."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..argtypes import bounded
from ..errors import UserError
from ..serve.server import LOOPBACK, listen, make_server, url_of
from .common import add_command, data_options, device_option, read_options, say, verify_option

DIGITS_DEFAULT = "my-digits"


def cmd_serve(args: argparse.Namespace) -> dict:
    try:
        # fastapi: the optional serve extra
        from ..serve.app import check_digits_folder, create_app
    except ImportError as exc:
        raise UserError(f"mnistlab serve needs fastapi and uvicorn ({exc.name} is missing): "
                        f"pip install 'mnistlab[serve]'") from None
    # torch loads when the command runs, not when the parser is built
    from ..train.run import load_run

    run = load_run(args.run_dir, args.device, verify=args.verify)
    digits = args.digits
    if digits == DIGITS_DEFAULT:  # not asked for: where ./my-digits cannot be written, the server runs without it
        try:
            check_digits_folder(Path(digits))
        except UserError as exc:
            say(args, f"note: saving drawings is off ({exc})")
            digits = None
    app = create_app(run, allowed_hosts=list(LOOPBACK) if args.host in LOOPBACK else None,
                     dataset=args.dataset, data_dir=args.data_dir, read=read_options(args), digits_dir=digits)
    server = make_server(app)
    sock = listen(args.host, args.port)
    url = url_of(sock)
    kind = "CNN" if run.model.is_cnn else "FFN"
    say(args, f"serving {args.run_dir} ({kind} '{run.model.config.spec}') at {url}",
        f"API schema: {url}openapi.json; press Ctrl+C to stop",
        *([f"\"wrong? it is a N\" saves drawings into {digits}; `mnistlab finetune {args.run_dir} {digits}` learns them"]
          if digits else []))
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


def register(subparsers, common) -> None:
    parser = add_command(subparsers, "serve", cmd_serve, common, first=lambda args: f"loading {args.run_dir} for the web "
                         "app", help="draw digits in the browser and watch the model",
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
    parser.add_argument("--digits", default=DIGITS_DEFAULT, metavar="DIR",
                        help="folder where \"wrong? it is a N\" saves your drawings, DIR/<class>/*.png, for `mnistlab "
                             "finetune` (default: ./my-digits)")
