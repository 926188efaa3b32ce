// What DPF needs to know about the plugin at compile time (formats, ports, features).
#ifndef DISTRHO_PLUGIN_INFO_H_INCLUDED
#define DISTRHO_PLUGIN_INFO_H_INCLUDED

#define DISTRHO_PLUGIN_BRAND "diffhost"
#define DISTRHO_PLUGIN_NAME  "diffhost Bridge"
#define DISTRHO_PLUGIN_URI   "urn:diffhost:bridge"
#define DISTRHO_PLUGIN_CLAP_ID "org.diffhost.bridge"

// A 16-pad instrument: MIDI in, the audio input only for capture, main stereo out plus a stereo
// out per pad (2 + 16 x 2 = 34 outputs) so a host that takes multi-out mixes pads on their own channels.
#define DISTRHO_PLUGIN_HAS_UI          0
#define DISTRHO_PLUGIN_IS_SYNTH        1
#define DISTRHO_PLUGIN_IS_RT_SAFE      1
#define DISTRHO_PLUGIN_NUM_INPUTS      2
#define DISTRHO_PLUGIN_NUM_OUTPUTS     34
#define DISTRHO_PLUGIN_WANT_MIDI_INPUT 1
#define DISTRHO_PLUGIN_WANT_TIMEPOS    1
#define DISTRHO_PLUGIN_WANT_STATE      1
// The worker thread changes pads (clips arriving over OSC), so the host must ask the plugin for its
// state when it saves, not replay the last values it set.
#define DISTRHO_PLUGIN_WANT_FULL_STATE 1

#define DISTRHO_PLUGIN_LV2_CATEGORY    "lv2:InstrumentPlugin"
#define DISTRHO_PLUGIN_VST3_CATEGORIES "Instrument|Sampler"
#define DISTRHO_PLUGIN_CLAP_FEATURES   "instrument", "sampler", "stereo"

#endif
