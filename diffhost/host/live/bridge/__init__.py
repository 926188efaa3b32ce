"""diffhost's side of the diffhost Bridge plugin: the clip cache, clips made for a plugin's pads,
the link with each plugin instance, and restoring lost clips from their recipe (docs/plugin.md)."""

from diffhost.host.live.bridge.cache import ClipCache, default_cache_dir
from diffhost.host.live.bridge.clips import ClipSpec, make_clip
from diffhost.host.live.bridge.link import InstanceInfo, PadOptions, PluginLink, Transport

__all__ = [
    "ClipCache",
    "ClipSpec",
    "InstanceInfo",
    "PadOptions",
    "PluginLink",
    "Transport",
    "default_cache_dir",
    "make_clip",
]
