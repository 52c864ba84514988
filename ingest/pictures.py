"""Whole pictures out of an RTSP demuxer: join the packets of one H.264 picture that FFmpeg hands over apart.

Why: a camera (or an RTP payloader such as GStreamer's, with ``config-interval``) that repeats SPS/PPS before
every slice of a keyframe makes FFmpeg's H.264 parser start a new packet at each of them, so a keyframe of
four slices arrives as four packets with one timestamp. Decoded one at a time each gives a picture with only
its own slices filled (the "half pictures" vision was given), and the clip buffer muxes four packets with one
decode time. A packet whose first slice does not start at macroblock 0 (``first_mb_in_slice > 0``, the
first field of every slice header) continues the picture before it; joined, the decoder sees the whole
picture once.

Knowing whether a packet is complete takes the next packet, so keyframes are held until it arrives (one frame
interval, once a GOP); other pictures pass straight through. A stream that splits other pictures too is seen
the first time it happens, said once in the log, and from then on every picture is held.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import av

log = logging.getLogger(__name__)

START_CODE = b"\x00\x00\x01"
SLICE_TYPES = (1, 5)  # coded slice of a non-IDR picture, of an IDR picture


def first_slice_continues(data: bytes) -> bool:
    """True when the first coded slice in Annex B ``data`` starts past macroblock 0 (a picture's later slice).

    ``first_mb_in_slice`` is the slice header's first field, coded ue(v): it is 0 exactly when the first bit
    after the NAL header byte is 1. Data without start codes (length-prefixed, not H.264) never continues.
    """
    at = data.find(START_CODE)
    while at != -1 and at + 4 < len(data):
        header = data[at + 3]
        if header & 0x1F in SLICE_TYPES:
            return not data[at + 4] & 0x80
        at = data.find(START_CODE, at + 3)
    return False


def _joined(first: av.Packet, rest: av.Packet) -> av.Packet:
    out = av.Packet(bytes(first) + bytes(rest))
    out.pts = first.pts if first.pts is not None else rest.pts
    out.dts = first.dts if first.dts is not None else rest.dts
    out.time_base = first.time_base or rest.time_base
    out.is_keyframe = bool(first.is_keyframe or rest.is_keyframe)
    return out


class PictureJoiner:
    """Feed packets in demux order with ``push``; it returns the whole pictures that are ready, in order."""

    def __init__(self, codec_name: str, where: str = "") -> None:
        self._active = codec_name == "h264"
        self._where = where
        self._held: av.Packet | None = None
        self._hold_all = False
        self.joined = 0  # packets folded into the picture before them (for tests and the log)

    def push(self, packet: av.Packet) -> list[av.Packet]:
        if not self._active:
            return [packet]
        if first_slice_continues(bytes(packet)):
            if self._held is not None:
                self._held = _joined(self._held, packet)
                self.joined += 1
                return []
            if not self._hold_all:  # its start already went on: hold every picture from now on
                self._hold_all = True
                log.warning("%s: the stream splits pictures that are not keyframes into several packets; "
                            "holding every picture one packet to join them", self._where or "camera")
            return [packet]
        ready = [self._held] if self._held is not None else []
        self._held = None
        if packet.is_keyframe or self._hold_all:
            self._held = packet
        else:
            ready.append(packet)
        return ready

    def flush(self) -> list[av.Packet]:
        """The picture still held (the connection ended)."""
        held, self._held = self._held, None
        return [held] if held is not None else []


def whole_pictures(packets: Iterable[av.Packet], codec_name: str, where: str = "") -> Iterator[av.Packet]:
    """``packets`` with every picture's packets joined into one (H.264; other codecs pass through)."""
    joiner = PictureJoiner(codec_name, where)
    for packet in packets:
        if packet.size == 0:  # the demuxer's end-of-stream flush marker
            yield from joiner.flush()
            yield packet
            continue
        yield from joiner.push(packet)
    yield from joiner.flush()
