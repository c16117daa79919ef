/**
 * The command line and the wiring of one running instance ({@code Main}, {@code Server} and the commands).
 *
 * <p>May import: any package of jitdi.
 */
package io.jitdi;
