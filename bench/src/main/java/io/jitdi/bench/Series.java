package io.jitdi.bench;

import java.util.ArrayList;
import java.util.List;

/** Paired samples of one quantity: jitdi's and the peer's. */
final class Series {
  final List<Double> jitdi = new ArrayList<>();
  final List<Double> peer = new ArrayList<>();

  void add(boolean isJitdi, double value) {
    (isJitdi ? jitdi : peer).add(value);
  }
}
