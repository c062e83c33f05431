"""Tests of the InVue LIVE Lock vendor."""
