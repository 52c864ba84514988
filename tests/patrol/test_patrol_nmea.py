"""GPS from a receiver: garbage and no-fix sentences are skipped and counted; real pty and real gpsd."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import tty
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from gridwatch.redis_server import free_port
from gridwatch.types import GpsFix
from patrol.gps import GpsdGps, NmeaGps
from patrol.nmea import NmeaParser, sentence
from patrol.settings import GpsSettings
from tests.patrol.conftest import need_binary, wait_for


def rmc(t: datetime, lat: str = "3446.800", lon: str = "11340.740", status: str = "A") -> str:
    return sentence(f"GPRMC,{t:%H%M%S}.00,{status},{lat},N,{lon},E,15.5,90.0,{t:%d%m%y},,,A")


def gga(t: datetime, quality: str = "1", talker: str = "GN") -> str:
    return sentence(f"{talker}GGA,{t:%H%M%S}.00,3446.800,N,11340.740,E,{quality},08,0.9,100.0,M,0.0,M,,")


T0 = datetime(2026, 11, 24, 8, 0, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0.replace(second=seconds)


def test_rmc_and_gga_give_one_fix_per_instant_with_position_speed_and_course() -> None:
    p = NmeaParser()
    first = p.feed(rmc(at(1)))
    assert p.feed(gga(at(1))) is None  # the same instant again
    second = p.feed(gga(at(2)))
    assert first is not None and (first.lat, first.lon, first.time, first.heading) == (34.78, 113.679, at(1), 90.0)
    assert first.speed == pytest.approx(15.5 * 0.514444)  # knots to m/s
    assert second is not None and second.time == at(2) and second.heading is None  # GGA: date from the RMC
    assert (p.stats.fixes, p.stats.merged, p.stats.garbage, p.stats.no_fix) == (2, 1, 0, 0)


def test_garbage_and_no_fix_sentences_are_skipped_and_counted() -> None:
    p = NmeaParser()
    good = rmc(at(1))
    lines = [
        "\x00\xff#@!noise",                                   # line noise
        good[:-2] + ("00" if good[-2:] != "00" else "11"),  # bad checksum
        "$GPRMC,080001.00,A,34xx.800,N,11340.740,E,1,2,241126,,,A",  # no checksum at all
        sentence("GPRMC,080002.00,A,34ab.800,N,11340.740,E,1.0,2.0,241126,,,A"),  # malformed latitude
        sentence("GPRMC,080003.00,V,,,,,,,241126,,,N"),    # receiver searching: status V
        gga(at(4), quality="0"),                             # GGA quality 0: no fix
        sentence("GPRMC,080005.00,A,0000.000,N,00000.000,E,0.0,0.0,241126,,,A"),  # zeros placeholder
        sentence("GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00"),  # other type
        good,
    ]
    fixes = [f for f in (p.feed(line) for line in lines) if f is not None]
    assert [f.time for f in fixes] == [at(1)]
    s = p.stats
    assert (s.sentences, s.garbage, s.no_fix, s.ignored, s.fixes) == (9, 4, 3, 1, 1)


def test_gga_without_any_rmc_takes_todays_date_and_handles_midnight() -> None:
    just_after_midnight = datetime(2026, 11, 25, 0, 0, 5, tzinfo=UTC)
    p = NmeaParser(today=just_after_midnight)
    fix = p.feed(gga(datetime(2026, 11, 24, 23, 59, 58, tzinfo=UTC)))
    assert fix is not None and fix.time == datetime(2026, 11, 24, 23, 59, 58, tzinfo=UTC)


@pytest.fixture()
def pty_receiver() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal standing in for the receiver's serial port: write to the master, read the slave."""
    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_serial_nmea_feed_skips_noise_and_keeps_going(pty_receiver: tuple[int, str]) -> None:
    master, device = pty_receiver
    got: list[GpsFix] = []
    feed = NmeaGps(GpsSettings(source="nmea", device=device, baudrate=4800, interval_seconds=1), got.append)
    feed.start()
    try:
        lines = [rmc(at(1)), "garbage line", rmc(at(2), status="V"), gga(at(3), talker="GP"),
                 sentence("GPRMC,bad"), rmc(at(4)), gga(at(4))]
        for line in lines:
            os.write(master, (line + "\r\n").encode("latin-1"))
        wait_for(lambda: len(got) >= 3, 5, "three fixes through the pty")
    finally:
        feed.stop()
    assert [f.time.second for f in got] == [1, 3, 4]
    assert feed.stats.garbage == 2 and feed.stats.no_fix == 1 and feed.stats.merged == 1


def test_gpsd_feed_reads_a_real_gpsd(pty_receiver: tuple[int, str]) -> None:
    need_binary("gpsd", "gpsd")
    master, device = pty_receiver
    port = free_port()
    proc = subprocess.Popen(["gpsd", "-N", "-n", "-b", "-S", str(port), device],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    got: list[GpsFix] = []
    feed = GpsdGps(GpsSettings(source="gpsd", gpsd_port=port, reconnect_seconds=0.3), got.append)
    try:
        wait_for(lambda: _listening(port), 10, "gpsd to listen")
        feed.start()
        now = datetime.now(UTC).replace(microsecond=0)
        deadline = time.monotonic() + 15
        k = 0
        while len(got) < 2 and time.monotonic() < deadline:
            t = datetime.fromtimestamp(now.timestamp() + k, UTC)
            for line in (rmc(t), gga(t), rmc(t, status="V")):
                os.write(master, (line + "\r\n").encode())
            k += 1
            time.sleep(0.3)
    finally:
        feed.stop()
        proc.terminate()
        proc.wait(5)
    assert len(got) >= 2, f"gpsd gave no fixes (stats {feed.stats})"
    assert got[0].lat == pytest.approx(34.78) and got[0].lon == pytest.approx(113.679)
    assert got[1].time > got[0].time


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False
