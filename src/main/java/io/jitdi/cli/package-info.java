/**
 * The command line: {@code Main} parses it, each command ({@code serve}, {@code verify}, {@code resolve},
 * {@code cache}, {@code containerd-config}) runs on the config that {@code ConfigFiles} loads, and answers with an
 * {@code ExitCode}.
 *
 * <p>May import: any package of jitdi.
 */
package io.jitdi.cli;
