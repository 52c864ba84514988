"""Fragmented MP4 by stream copy: the init segment of a video stream and one ``moof``+``mdat`` fragment per packet.

The init segment (``ftyp`` + ``moov`` with its codec configuration, e.g. H.264's ``avcC`` built from the SPS/PPS of
an RTSP camera's SDP) comes from FFmpeg's own mp4 muxer through PyAV. The fragments are written here instead,
because FFmpeg's ``frag_every_frame`` writes a frame's fragment only once the *next* packet arrives (it needs the
sample's duration), which adds a frame interval of latency (40 ms at 25 fps, 200 ms at 5 fps) and PyAV cannot
flush it earlier. A fragment here is ~100 bytes of boxes around the packet's own bytes: nothing is decoded.

Packets from FFmpeg's RTSP demuxer carry H.264/H.265 in Annex B form (start codes); MP4 samples carry the same
NAL units length-prefixed, so :func:`sample_data` swaps the one for the other.
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import av
from av.video.stream import VideoStream

# What browsers are told for an H.265 stream when the init segment's hvcC is not parsed: enough for
# MediaSource.isTypeSupported to answer whether the browser plays H.265 at all.
HEVC_CODEC = "hvc1.1.6.L93.B0"
KEY_SAMPLE_FLAGS = 0x02000000  # sample_depends_on = 2: a sync sample
DELTA_SAMPLE_FLAGS = 0x01010000  # depends on others, is_non_sync_sample
_TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800  # offset, duration, size, flags, cts
_TFHD_DEFAULT_BASE_IS_MOOF = 0x020000


class Fmp4Error(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class InitSegment:
    data: bytes  # ftyp + moov
    timescale: int  # of the video track (mdhd): the unit of every fragment's times
    codec: str  # RFC 6381 codecs parameter, e.g. "avc1.42c01f"
    track_id: int = 1


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full_box(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """[(type, payload start, box end)] of the boxes laid end to end in data[start:end]."""
    end = len(data) if end is None else end
    found = []
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, at + 8)[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise Fmp4Error(f"box {kind!r} at {at} overruns its parent")
        found.append((kind, at + header, at + size))
        at += size
    return found


def find_box(data: bytes, path: tuple[bytes, ...], start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """(payload start, end) of the first box along ``path`` (e.g. moov/trak/mdia/mdhd), or None."""
    for kind, payload, stop in iter_boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                return payload, stop
            inner = payload + _CHILDREN_OFFSET.get(kind, 0)
            hit = find_box(data, path[1:], inner, stop)
            if hit is not None:
                return hit
    return None


# Boxes whose children follow a fixed header: stsd (full box + entry count), avc1/hvc1 (a visual sample entry).
_CHILDREN_OFFSET = {b"stsd": 8, b"avc1": 78, b"hvc1": 78, b"hev1": 78}


def _timescale(init: bytes) -> int:
    hit = find_box(init, (b"moov", b"trak", b"mdia", b"mdhd"))
    if hit is None:
        raise Fmp4Error("init segment has no mdhd")
    at = hit[0]
    version = init[at]
    return int(struct.unpack_from(">I", init, at + (20 if version == 1 else 12))[0])


def _codec(init: bytes, name: str) -> str:
    avcc = find_box(init, (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1", b"avcC"))
    if avcc is not None:
        profile, compat, level = init[avcc[0] + 1: avcc[0] + 4]
        return f"avc1.{profile:02x}{compat:02x}{level:02x}"
    if name in ("hevc", "h265"):
        return HEVC_CODEC
    raise Fmp4Error(f"no browser codec string for {name!r}")


def init_segment(stream: VideoStream) -> InitSegment:
    """The init segment for ``stream`` (an input stream of a demuxer), written by FFmpeg's mp4 muxer."""
    sink = io.BytesIO()
    with av.open(sink, "w", format="mp4",
                 options={"movflags": "empty_moov+default_base_moof+frag_custom"}) as out:
        out.add_stream_from_template(stream)
        out.start_encoding()
        data = sink.getvalue()  # the header is written now; closing adds nothing a browser needs
    if not data:
        raise Fmp4Error("the mp4 muxer wrote no header")
    name = stream.codec_context.name
    return InitSegment(data, _timescale(data), _codec(data, name))


def sample_data(packet: bytes) -> bytes:
    """Annex B (start-code separated NAL units) -> 4-byte length-prefixed NAL units; anything else as it is."""
    if not (packet.startswith(b"\x00\x00\x01") or packet.startswith(b"\x00\x00\x00\x01")):
        return packet
    out = bytearray()
    at = packet.find(b"\x00\x00\x01")
    while at >= 0:
        start = at + 3
        nxt = packet.find(b"\x00\x00\x01", start)
        stop = len(packet) if nxt < 0 else nxt
        # A 4-byte start code's leading zero belongs to it, not to the NAL unit before it.
        end = stop - 1 if nxt >= 0 and packet[stop - 1] == 0 else stop
        if end > start:
            out += struct.pack(">I", end - start) + packet[start:end]
        at = nxt
    return bytes(out)


def fragment(sequence: int, decode_time: int, duration: int, data: bytes, *, key: bool,
             composition_offset: int = 0, track_id: int = 1) -> bytes:
    """One sample as moof + mdat (times in the init segment's timescale); ``data`` already length-prefixed."""
    def moof(data_offset: int) -> bytes:
        trun = full_box(b"trun", 1, _TRUN_FLAGS, struct.pack(
            ">IiIIIi", 1, data_offset, duration, len(data), KEY_SAMPLE_FLAGS if key else DELTA_SAMPLE_FLAGS,
            composition_offset))
        traf = box(b"traf", full_box(b"tfhd", 0, _TFHD_DEFAULT_BASE_IS_MOOF, struct.pack(">I", track_id))
                   + full_box(b"tfdt", 1, 0, struct.pack(">Q", decode_time)) + trun)
        return box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", sequence)) + traf)

    size = len(moof(0))  # the offset field is fixed-size, so the box size does not depend on its value
    return moof(size + 8) + box(b"mdat", data)
