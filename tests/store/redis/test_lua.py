"""The Lua loader finds every script the engine uses, and Redis accepts each of them."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest
import redis

from eventd.store.redis import lua
from eventd.store.redis.engine import SCRIPTS
from eventd.store.redis.packing import ID_START
from tests.redis_server import RedisServer

ROOT = Path(__file__).parents[3]
PACKAGE = ROOT / "src" / "eventd"


def shipped() -> list[str]:
    """Return the names of the .lua files in the package's scripts folder."""
    return sorted(entry.name[:-4] for entry in lua.SCRIPTS.iterdir() if entry.name.endswith(".lua"))


def test_every_script_file_is_part_of_a_script_the_engine_runs() -> None:
    assert shipped()
    for name in shipped():
        assert any(lua.read(name) in source for source in SCRIPTS.values()), name


def test_a_script_gets_its_constants_and_the_scripts_it_uses_first() -> None:
    source = lua.source("insert", uses=["record"], ID_START=ID_START)
    assert source.startswith(f"local ID_START = {ID_START}\n")
    assert source.index("local function record(") < source.index("local count =")


@pytest.mark.redis
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_redis_accepts_every_script(redis_server: RedisServer, name: str) -> None:
    with redis.Redis.from_url(redis_server.url) as client:
        sha = client.script_load(SCRIPTS[name])
        assert client.script_exists(sha) == [True]


def test_the_package_data_ships_every_script() -> None:
    # A non-editable install copies only what package-data names.
    with open(ROOT / "pyproject.toml", "rb") as file:
        globs = tomllib.load(file)["tool"]["setuptools"]["package-data"]["eventd"]
    for name in shipped():
        path = f"store/redis/scripts/{name}.lua"
        assert (PACKAGE / path).is_file()
        assert any(fnmatch.fnmatch(path, glob) for glob in globs), path
