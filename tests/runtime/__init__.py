"""Tests of snndsl.runtime, against SpikingJelly 2.0.0 as the reference."""
