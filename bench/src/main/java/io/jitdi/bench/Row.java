package io.jitdi.bench;

import java.util.List;

/**
 * One row of the results table: jitdi's samples and the peer's, in {@code unit}, and how to read them: the
 * {@code target}, whether it was {@code met} (null: reported only), a {@code note} for the notes below the table (may
 * be empty). A row that could not be measured has {@code notRun}, the reason shown in its jitdi column, and no
 * samples.
 */
record Row(String id, String name, String unit, List<Double> jitdi, String peerName, List<Double> peer,
    String target, Boolean met, String note, String notRun) {
  Row(String id, String name, String unit, List<Double> jitdi, String peerName, List<Double> peer, String target,
      Boolean met, String note) {
    this(id, name, unit, jitdi, peerName, peer, target, met, note, null);
  }

  static Row notRun(String id, String name, String reason, String note) {
    return new Row(id, name, "", List.of(), "", List.of(), "", null, note, reason);
  }
}
