//! What the screens answer: a page, a redirect or the stylesheet, and the
//! pages every screen shares (refusals, faults, a flow that has ended),
//! made into an [`http::Response`]. The headers every answer carries are
//! the layer's ([`crate::layer`]).

use askama::Template;
use customer_web_core::FlowError;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::context::Ctx;
use crate::pages::{Layout, Link, MessagePage, RENDER_FAILED, STYLESHEET};

/// The stylesheet may be cached for a year: its URL changes with it.
const STYLESHEET_CACHE: &str = "public, max-age=31536000, immutable";

/// Bytes set aside for a rendered page: more than the longest screen.
const PAGE_CAPACITY: usize = 8 * 1024;

/// Every page is HTML in UTF-8.
const HTML: &str = "text/html; charset=utf-8";

/// What a screen answers, before the common headers are added.
pub(crate) enum Reply {
    /// An HTML page.
    Page { status: u16, html: String },
    /// `303 See Other` to a path of this service.
    SeeOther(&'static str),
    /// The stylesheet.
    Stylesheet,
}

/// Where a customer whose flow has ended can begin again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Again {
    /// Enrollment, from screen 2.
    Enroll,
    /// Recovery, from step 2.
    Recover,
    /// The top page.
    Top,
}

impl Ctx<'_> {
    /// Renders a page.
    pub(crate) fn render(&self, status: u16, page: &impl Template) -> Reply {
        // Room for the longest page at once, so the page is not copied as
        // it grows.
        let mut html = String::with_capacity(PAGE_CAPACITY);
        match page.render_into(&mut html).map(|()| html) {
            // A page sent back with errors says so first in its title, the
            // first thing a screen reader reads of a new page.
            Ok(html) if status == 422 => Reply::Page {
                status,
                html: html.replacen("<title>", "<title>入力エラー：", 1),
            },
            Ok(html) => Reply::Page { status, html },
            Err(_) => Reply::Page {
                status: 500,
                html: RENDER_FAILED.to_owned(),
            },
        }
    }

    /// A page that only says something.
    pub(crate) fn message(
        &mut self,
        status: u16,
        heading: &str,
        paragraphs: &[&str],
        links: Vec<Link>,
    ) -> Reply {
        let page = MessagePage {
            layout: self.layout(),
            heading: heading.to_owned(),
            paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
            links,
        };
        self.render(status, &page)
    }

    /// 404.
    pub(crate) fn not_found(&mut self) -> Reply {
        self.message(
            404,
            "お探しのページが見つかりません",
            &["URLに誤りがないかご確認ください。"],
            vec![Link::new("/", "トップへ")],
        )
    }

    /// 405, with the methods the path answers.
    pub(crate) fn method_not_allowed(&mut self, allow: &'static str) -> Reply {
        self.extra_headers
            .insert(http::header::ALLOW, HeaderValue::from_static(allow));
        self.message(
            405,
            "この操作は受け付けられません",
            &["画面のボタンやリンクからお進みください。"],
            vec![Link::new("/", "トップへ")],
        )
    }

    /// 503: a capability failed. What failed is for the host's log, not
    /// for the customer.
    pub(crate) fn unavailable(&mut self) -> Reply {
        self.extra_headers.insert(RETRY_AFTER, HeaderValue::from(30u64));
        self.message(
            503,
            "ただいまサービスをご利用いただけません",
            &[
                "しばらく時間をおいてから、もう一度お試しください。",
                "繰り返し表示される場合は、お問い合わせ先までご連絡ください。",
            ],
            vec![Link::new("/", "トップへ")],
        )
    }

    /// The flow this browser was in has ended or was never there.
    pub(crate) fn start_again(&mut self, again: Again) -> Reply {
        let link = match again {
            Again::Enroll => Link::new("/enroll", "初めてご利用いただく方はこちら"),
            Again::Recover => Link::new("/recover", "ユーザーＩＤ・パスワードをお忘れの方はこちら"),
            Again::Top => Link::new("/", "トップへ"),
        };
        self.message(
            410,
            "お手続きを続けることができません",
            &[
                "お手続きの有効期限が切れたか、お手続きの情報が見つかりません。",
                "お手数ですが、最初からやり直してください。",
            ],
            vec![link],
        )
    }

    /// Says how long to wait (`Retry-After` and the words the page shows).
    pub(crate) fn retry_after(&mut self, seconds: u64) -> String {
        self.extra_headers
            .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        wait_words(seconds)
    }

    /// Too many mails to one address: say how long to wait.
    pub(crate) fn rate_limit_message(&mut self, seconds: u64) -> String {
        format!(
            "短い時間に続けてお手続きがあったため、受け付けを停止しています。{}ほどたってから、もう一度お試しください。",
            self.retry_after(seconds)
        )
    }

    /// A step refused for a reason the screen itself does not handle.
    pub(crate) fn failure(&mut self, error: FlowError, again: Again) -> Reply {
        match error {
            FlowError::Unavailable(_) => self.unavailable(),
            FlowError::UnknownFlow | FlowError::FlowExpired => self.start_again(again),
            FlowError::RateLimited(seconds) => {
                let text = self.rate_limit_message(seconds);
                self.message(
                    429,
                    "しばらくお待ちください",
                    &[&text],
                    vec![Link::new("/", "トップへ")],
                )
            }
            _ => self.message(
                409,
                "この操作は受け付けられませんでした",
                &["お手数ですが、画面を開き直してもう一度お試しください。"],
                vec![Link::new("/", "トップへ")],
            ),
        }
    }

    /// The answer: the reply with its content type, the headers the screen
    /// asked for and the cookies it set.
    pub(crate) fn finish(self, reply: Reply) -> Response<Vec<u8>> {
        let mut response = match reply {
            Reply::Page { status, html } => page(status, html),
            Reply::SeeOther(location) => {
                let mut response = page(303, String::new());
                response
                    .headers_mut()
                    .insert(LOCATION, HeaderValue::from_static(location));
                response
            }
            Reply::Stylesheet => {
                let mut response = response(STYLESHEET.as_bytes().to_vec());
                let headers = response.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
                headers.insert(CACHE_CONTROL, HeaderValue::from_static(STYLESHEET_CACHE));
                response
            }
        };
        let headers = response.headers_mut();
        headers.extend(self.extra_headers);
        for (_, cookie) in self.set_cookies {
            match HeaderValue::try_from(cookie) {
                Ok(value) => {
                    headers.append(SET_COOKIE, value);
                }
                // A cookie value is a token or empty; one that is no valid
                // header value is a bug, answered as a failed page rather
                // than by leaving a cookie unset or unended.
                Err(_) => return page(500, RENDER_FAILED.to_owned()),
            }
        }
        response
    }
}

/// Room for every header an answer carries (the layer's six, the content
/// type, cookies and a location), so the map is allocated once.
const HEADERS: usize = 16;

/// A response with room for its headers.
fn response(body: Vec<u8>) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.headers_mut() = HeaderMap::with_capacity(HEADERS);
    response
}

/// An HTML page with its status; nothing more.
fn page(status: u16, html: String) -> Response<Vec<u8>> {
    let mut response = response(html.into_bytes());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(HTML));
    response
}

/// A wait in words: minutes once it is a minute or more.
fn wait_words(seconds: u64) -> String {
    if seconds < 60 {
        format!("{}秒", seconds.max(1))
    } else {
        format!("{}分", seconds.div_ceil(60))
    }
}

/// A page answered before any flow is looked at (the request could not
/// even be read): no brand, no form, no cookie.
pub(crate) fn standalone_page(status: StatusCode, heading: &str, paragraph: &str) -> Response<Vec<u8>> {
    let page_view = MessagePage {
        layout: Layout::new(None, String::new()),
        heading: heading.into(),
        paragraphs: vec![paragraph.into()],
        links: vec![Link::new("/", "トップへ")],
    };
    let html = page_view.render().unwrap_or_else(|_| RENDER_FAILED.to_owned());
    page(status.as_u16(), html)
}
