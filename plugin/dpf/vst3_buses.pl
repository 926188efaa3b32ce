#!/usr/bin/perl
# Patches a copy of DPF 1.6's DistrhoPluginVST3.cpp (path in ARGV[0]) so that process() maps every
# audio bus the host passes to the plugin's ports of that bus. DPF 1.6 walks the channels of the
# first bus alone, skipping ports of buses the host deactivated: a pad's own stereo bus (buses 1..16)
# never reached the plugin in any host, and a host that deactivates the capture input (Ardour on a
# MIDI track) made it print an assertion from the audio thread every block. Each bus's channels now
# go to its ports in order; ports of buses the host did not pass read or write DPF's dummy buffer, as
# before. Fails (exit 1) when DPF's code differs.
use strict;
use warnings;
my $file = $ARGV[0];
local $/;
open(my $in, '<', $file) or die "cannot read $file";
my $text = <$in>;
close($in);
my $old = <<'OLD';
            int32_t i = 0;
           #if DISTRHO_PLUGIN_NUM_OUTPUTS > 0
            if (data->outputs != nullptr)
            {
                for (int32_t j = 0; j < data->outputs->num_channels; ++j)
                {
                    while (!fEnabledOutputs[i] && i < DISTRHO_PLUGIN_NUM_OUTPUTS)
                        outputs[i++] = fDummyAudioBuffer;

                    DISTRHO_SAFE_ASSERT_INT_BREAK(i < DISTRHO_PLUGIN_NUM_OUTPUTS, i);
                    outputs[i++] = data->outputs->channel_buffers_32[j];
                }
            }
           #endif
            for (; i < std::max(1, DISTRHO_PLUGIN_NUM_OUTPUTS); ++i)
                outputs[i] = fDummyAudioBuffer;
OLD
my $new = <<'NEW';
            for (int32_t i = 0; i < std::max(1, DISTRHO_PLUGIN_NUM_OUTPUTS); ++i)
                outputs[i] = fDummyAudioBuffer;
           #if DISTRHO_PLUGIN_NUM_OUTPUTS > 0
            if (data->outputs != nullptr)
            {
                for (int32_t b = 0; b < data->num_output_buses; ++b)
                {
                    const v3_audio_bus_buffers& bus(data->outputs[b]);
                    if (bus.channel_buffers_32 == nullptr)
                        continue;
                    int32_t j = 0;
                    for (uint32_t p = 0; p < DISTRHO_PLUGIN_NUM_OUTPUTS && j < bus.num_channels; ++p)
                    {
                        if (fPlugin.getAudioPort(false, p).busId != static_cast<uint32_t>(b))
                            continue;
                        if (bus.channel_buffers_32[j] != nullptr)
                            outputs[p] = bus.channel_buffers_32[j];
                        ++j;
                    }
                }
            }
           #endif
NEW
my $old_in = <<'OLD';
            int32_t i = 0;
           #if DISTRHO_PLUGIN_NUM_INPUTS > 0
            if (data->inputs != nullptr)
            {
                for (int32_t j = 0; j < data->inputs->num_channels; ++j)
                {
                    while (!fEnabledInputs[i] && i < DISTRHO_PLUGIN_NUM_INPUTS)
                        inputs[i++] = fDummyAudioBuffer;

                    DISTRHO_SAFE_ASSERT_INT_BREAK(i < DISTRHO_PLUGIN_NUM_INPUTS, i);
                    inputs[i++] = data->inputs->channel_buffers_32[j];
                }
            }
           #endif
            for (; i < std::max(1, DISTRHO_PLUGIN_NUM_INPUTS); ++i)
                inputs[i] = fDummyAudioBuffer;
OLD
my $new_in = <<'NEW';
            for (int32_t i = 0; i < std::max(1, DISTRHO_PLUGIN_NUM_INPUTS); ++i)
                inputs[i] = fDummyAudioBuffer;
           #if DISTRHO_PLUGIN_NUM_INPUTS > 0
            if (data->inputs != nullptr)
            {
                for (int32_t b = 0; b < data->num_input_buses; ++b)
                {
                    const v3_audio_bus_buffers& bus(data->inputs[b]);
                    if (bus.channel_buffers_32 == nullptr)
                        continue;
                    int32_t j = 0;
                    for (uint32_t p = 0; p < DISTRHO_PLUGIN_NUM_INPUTS && j < bus.num_channels; ++p)
                    {
                        if (fPlugin.getAudioPort(true, p).busId != static_cast<uint32_t>(b))
                            continue;
                        if (bus.channel_buffers_32[j] != nullptr)
                            inputs[p] = bus.channel_buffers_32[j];
                        ++j;
                    }
                }
            }
           #endif
NEW
my $count = ($text =~ s/\Q$old_in\E/$new_in/) + ($text =~ s/\Q$old\E/$new/);
die "DPF changed: see plugin/dpf/vst3_buses.pl\n" unless $count == 2;
open(my $out, '>', $file) or die "cannot write $file";
print $out $text;
close($out);
