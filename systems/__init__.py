"""Video-to-music systems: the `System` interface, its registry, controls, DyViM and baselines."""

from systems.base import GenerationRequest, GenerationResult, System, SystemContext, get_system_class, known_systems, register_system

__all__ = ["GenerationRequest", "GenerationResult", "System", "SystemContext", "get_system_class",
           "known_systems", "register_system"]
