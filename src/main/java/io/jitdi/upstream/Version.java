package io.jitdi.upstream;

/** The running jitdi version, from the jar's manifest (or {@code dev} when run from classes). */
public final class Version {
  public static final String VERSION = detect();

  private Version() {}

  private static String detect() {
    String v = Version.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }
}
