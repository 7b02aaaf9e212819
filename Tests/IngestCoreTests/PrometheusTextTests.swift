import LiveGateModel
import XCTest

/// `PrometheusText`'s label values: escaped as the text format requires (a channel name may hold
/// anything), and passed through untouched when nothing needs escaping.
final class PrometheusTextTests: XCTestCase {
    func testLabelValuesAreEscapedAsTheTextFormatRequires() {
        var p = PrometheusText()
        p.sample("m", [("name", #"a\b"c"# + "\nd"), ("plain", "ch_1 «é» ✓"), ("empty", "")], 1.5)
        XCTAssertEqual(p.text, #"m{name="a\\b\"c\nd",plain="ch_1 «é» ✓",empty=""} 1.5"# + "\n")
        var q = PrometheusText()
        q.sample("m", [("l", "\\\\\"\n\n")], 2)
        XCTAssertEqual(q.text, #"m{l="\\\\\"\n\n"} 2"# + "\n")
    }
}
