"""`scia-planner` / `python -m scia.planner`: run the planner service."""

from scia.planner.config import PlannerSettings
from scia.planner.service import PlannerApp
from scia.runtime.server import run


def main() -> None:
    run("planner", PlannerSettings, PlannerApp)


if __name__ == "__main__":
    main()
