package dev.lockstep.starter;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import dev.lockstep.workflows.Steering;
import java.io.IOException;
import java.time.Instant;

/**
 * Every time the CLI prints in {@code -o json} and {@code -o yaml} is ISO-8601 in UTC (issue 20). A
 * steering request's time travels as epoch milliseconds between worker and CLI, as v0.2.0 sent it
 * (an older CLI still reads a newer worker's status); it is printed as ISO here.
 */
final class Times {
  private Times() {}

  static final SimpleModule MODULE =
      new SimpleModule("lockstep-times").addSerializer(Steering.class, new SteeringAsIso());

  private static final class SteeringAsIso extends StdSerializer<Steering> {
    SteeringAsIso() {
      super(Steering.class);
    }

    @Override
    public void serialize(Steering s, JsonGenerator g, SerializerProvider provider)
        throws IOException {
      g.writeStartObject();
      g.writeStringField("at", Instant.ofEpochMilli(s.at()).toString());
      g.writeStringField("action", s.action());
      g.writeStringField("identity", s.identity());
      g.writeStringField("reason", s.reason());
      g.writeStringField("via", s.via());
      g.writeBooleanField("accepted", s.accepted());
      g.writeStringField("outcome", s.outcome());
      g.writeEndObject();
    }
  }
}
