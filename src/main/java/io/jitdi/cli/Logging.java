package io.jitdi.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import io.jitdi.config.LogConfig;
import org.slf4j.LoggerFactory;

/** Applies the {@code log:} section to logback (configured from {@code logback.xml} before the config is read). */
final class Logging {
  private Logging() {}

  static void apply(LogConfig config) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
      return;
    }
    if (config.level().isPresent() && System.getenv("JITDI_LOG_LEVEL") == null) {
      context.getLogger("io.jitdi").setLevel(Level.toLevel(config.level().get()));
    }
    if (config.format() == LogConfig.Format.json) {
      Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
      if (root.getAppender("TEXT") instanceof ConsoleAppender<ILoggingEvent> console) {
        JsonEncoder json = new JsonEncoder();
        json.setContext(context);
        json.setWithSequenceNumber(false);
        json.setWithContext(false);
        json.setWithFormattedMessage(true);
        json.setWithMessage(false);
        json.setWithArguments(false);
        json.start();
        console.stop();
        console.setEncoder(json);
        console.start();
      }
    }
  }
}
