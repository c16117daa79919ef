package io.jitdi.cli;

import io.jitdi.Server;
import io.jitdi.config.JitdiConfig;
import io.jitdi.jit.RuleSet;
import java.io.PrintStream;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code jitdi serve}: starts the registry and keeps it running until the JVM is told to stop. */
final class ServeCommand {
  private static final Logger LOG = LoggerFactory.getLogger(ServeCommand.class);

  private ServeCommand() {}

  /** Starts; returns {@link ExitCode#FAILED} if start-up fails, else {@link ExitCode#OK} with the server running. */
  static ExitCode run(JitdiConfig config, RuleSet rules, PrintStream err) {
    Logging.apply(config.log());
    Server server;
    try {
      server = Server.start(config, rules);
    } catch (Exception e) {
      Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
      err.println("jitdi: cannot start: " + cause.getMessage());
      LOG.error("start-up failed", cause);
      return ExitCode.FAILED;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.stop();
      // a clean stop on SIGTERM exits 0, not the JVM's 143, so supervisors can tell it from a crash
      Runtime.getRuntime().halt(ExitCode.OK.status());
    }, "jitdi-shutdown"));
    return ExitCode.OK;
  }
}
