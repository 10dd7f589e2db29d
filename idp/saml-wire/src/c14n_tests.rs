//! Exclusive c14n against forms worked out by hand from the recommendation; the
//! signatures made with it are checked against libxmlsec1's in the IdP's signing tests.

use super::*;

fn whole(doc: &str) -> String {
    exclusive(doc, doc.find('<').expect("an element"), None).expect("canonicalises")
}

fn at(doc: &str, tag: &str) -> usize {
    doc.find(tag).expect("the tag is in the document")
}

#[test]
fn unused_declarations_go_and_used_ones_are_declared_once() {
    let doc = r#"<a:root xmlns:a="urn:a" xmlns:b="urn:b" z="1" a="2"><a:child/>text &amp; more &lt; &gt; "q" 'a'</a:root>"#;
    assert_eq!(whole(doc), r#"<a:root xmlns:a="urn:a" a="2" z="1"><a:child></a:child>text &amp; more &lt; &gt; "q" 'a'</a:root>"#);
}

#[test]
fn an_inner_apex_declares_what_it_uses_from_its_ancestors() {
    let doc = r#"<r xmlns="urn:d" xmlns:s="urn:s" xmlns:u="urn:u"><s:x s:attr="v" plain="p"><y/></s:x></r>"#;
    let c = exclusive(doc, at(doc, "<s:x"), None).expect("canonicalises");
    assert_eq!(c, r#"<s:x xmlns:s="urn:s" plain="p" s:attr="v"><y xmlns="urn:d"></y></s:x>"#);
}

#[test]
fn an_empty_default_namespace_is_declared_only_to_undo_a_rendered_one() {
    let doc = r#"<r xmlns="urn:d"><c xmlns=""><d/></c></r>"#;
    assert_eq!(whole(doc), r#"<r xmlns="urn:d"><c xmlns=""><d></d></c></r>"#);
    assert_eq!(exclusive(doc, at(doc, "<c"), None).expect("canonicalises"), "<c><d></d></c>");
}

#[test]
fn a_prefix_bound_again_is_declared_only_when_its_namespace_changes() {
    let doc = r#"<a:r xmlns:a="urn:1"><a:c xmlns:a="urn:2"/><a:d xmlns:a="urn:1"/></a:r>"#;
    assert_eq!(whole(doc), r#"<a:r xmlns:a="urn:1"><a:c xmlns:a="urn:2"></a:c><a:d></a:d></a:r>"#);
}

#[test]
fn declarations_sort_by_prefix_and_attributes_by_namespace_then_name() {
    let doc = r#"<b:r xmlns:b="urn:b" xmlns:a="urn:z" b:y="2" a:x="1" c="3" ID="_i"/>"#;
    assert_eq!(whole(doc), r#"<b:r xmlns:a="urn:z" xmlns:b="urn:b" ID="_i" c="3" b:y="2" a:x="1"></b:r>"#);
}

#[test]
fn the_omitted_element_and_its_content_leave_no_trace() {
    let doc = r#"<r ID="x"><a>1</a><ds:Signature xmlns:ds="urn:ds"><ds:V><ds:W/></ds:V></ds:Signature><b/></r>"#;
    assert_eq!(exclusive(doc, 0, Some(at(doc, "<ds:Signature"))).expect("canonicalises"), r#"<r ID="x"><a>1</a><b></b></r>"#);
    let empty = r#"<r><ds:Signature xmlns:ds="urn:ds"/>t</r>"#;
    assert_eq!(exclusive(empty, 0, Some(at(empty, "<ds:"))).expect("canonicalises"), "<r>t</r>");
}

#[test]
fn line_ends_and_attribute_whitespace_read_as_a_parser_reads_them() {
    let doc = "<r a=\"x&#10;y\tz&#9;\r\nw\" b='\"&apos;'>l1\r\nl2\rl3&#13;&#x3C;</r>";
    assert_eq!(whole(doc), "<r a=\"x&#xA;y z&#x9; w\" b=\"&quot;'\">l1\nl2\nl3&#xD;&lt;</r>");
}

#[test]
fn comments_go_and_cdata_becomes_text() {
    assert_eq!(whole("<r><!-- c --><![CDATA[<&>]]>x</r>"), "<r>&lt;&amp;&gt;x</r>");
}

#[test]
fn non_ascii_text_passes_unchanged() {
    assert_eq!(whole("<r n=\"山田 太郎\">守り</r>"), "<r n=\"山田 太郎\">守り</r>");
}

#[test]
fn what_the_idp_never_writes_is_refused() {
    for doc in [
        "<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>",
        "<r><?pi x?></r>",
        "<r>&e;</r>",
        "<a:r/>",
        "<r b:x=\"1\"/>",
        "<r xmlns:a=\"\"/>",
        "<r><a></r>",
        "<r>",
        "<r><a/ b=\"1\"/></r>",
        "<r><1a/></r>",
        "<r a:b:c=\"1\" xmlns:a=\"u\"/>",
        "<r><:a/></r>",
    ] {
        let start = doc.find("<r").unwrap_or(0);
        assert!(exclusive(doc, start, None).is_err(), "{doc}");
    }
    assert!(exclusive("<r/>", 1, None).is_err(), "no element starts there");
}

#[test]
fn elements_are_located_with_their_namespaces_and_spans() {
    let doc = r##"<p:r xmlns:p="urn:p" ID="_1"><p:s URI="#_1"/><t>x</t></p:r>"##;
    let list = elements(doc).expect("parses");
    assert_eq!(list.len(), 3);
    assert!(list[0].is("urn:p", "r") && list[0].span == (0..doc.len()) && list[0].attribute("ID") == Some("_1"));
    assert!(list[1].is("urn:p", "s") && &doc[list[1].span.clone()] == r##"<p:s URI="#_1"/>"##);
    assert!(list[2].is("", "t") && list[2].depth == 2 && &doc[list[2].span.clone()] == "<t>x</t>");
}
