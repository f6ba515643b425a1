"""`scia-gateway` / `python -m scia.gateway`: serve the gateway, or print a token for local use.

    scia-gateway                      serve on SCIA_GATEWAY_HTTP_HOST:SCIA_GATEWAY_HTTP_PORT (8080)
    scia-gateway token --user demo --group team-demo:admin
"""

from __future__ import annotations

import argparse
import sys

from scia.runtime.config import ConfigError, load_settings

from scia.gateway.config import GatewaySettings


def serve(settings: GatewaySettings) -> None:
    import uvicorn

    from scia.gateway.app import create_app
    from scia.runtime.logs import configure_logging
    from scia.runtime.telemetry import configure_tracing

    configure_logging("gateway", settings.log_level)
    configure_tracing("scia-gateway")
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep the JSON logging configured above
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        ws_max_size=settings.max_body_bytes,
    )
    uvicorn.Server(config).run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scia-gateway", description="SCIA's GraphQL gateway.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve GraphQL, /healthz and /metrics (the default)")
    token = commands.add_parser("token", help="print an HS256 token signed with SCIA_GATEWAY_JWT_SHARED_KEY")
    token.add_argument("--user", required=True)
    token.add_argument("--group", action="append", default=[], help='e.g. "team-demo:admin"; repeatable')
    token.add_argument("--ttl", type=int, help="lifetime in seconds (default SCIA_GATEWAY_TOKEN_TTL_SECONDS)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(GatewaySettings)
    except ConfigError as error:
        sys.exit(str(error))
    if args.command == "token":
        from scia.gateway.auth import issue_token

        if settings.jwt_shared_key is None:
            sys.exit("scia-gateway token needs SCIA_GATEWAY_JWT_SHARED_KEY (OIDC tokens come from the issuer)")
        print(issue_token(settings.jwt_shared_key.get_secret_value(), args.user, args.group,
                          ttl_seconds=args.ttl or settings.token_ttl_seconds, audience=settings.jwt_audience,
                          issuer=settings.oidc_issuer))
        return
    serve(settings)


if __name__ == "__main__":
    main()
