package dev.lockstep.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The arithmetic and the report of the benchmarks (the measurements run with `lockstep bench`). */
class BenchTest {
  @Test
  void mediansAndPercentilesAreTheUsualOnes() {
    assertEquals(2.0, Bench.median(List.of(3.0, 1.0, 2.0)));
    assertEquals(2.5, Bench.median(List.of(4.0, 1.0, 2.0, 3.0)));
    List<Double> hundred = new java.util.ArrayList<>();
    for (int i = 1; i <= 100; i++) {
      hundred.add((double) i);
    }
    assertEquals(50.0, Bench.percentile(hundred, 0.5));
    assertEquals(95.0, Bench.percentile(hundred, 0.95));
    assertEquals(100.0, Bench.percentile(hundred, 1.0));
  }

  @Test
  void aTableIsMarkdownForTheDocsAndTextForTheTerminal() {
    Bench.Table t =
        new Bench.Table("B9", "example", List.of("a", "b"), List.of(List.of("1", "2")), "a note");
    assertThat(t.markdown())
        .isEqualTo("### B9 example\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\na note\n");
    assertThat(t.text()).startsWith("B9 example\na  b  \n1  2  \n");
  }
}
