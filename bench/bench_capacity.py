"""Capacity as a school meets it: N students who open Inside a model, upload a new photo and look at Grad-CAM at once.

No browser: each student is a websocket client that speaks Streamlit's own protocol, as the frontend does, without
rendering anything. The app is started as the README starts it (`PORT=... make run`, on a free loopback port, with
CNNVIZ_DOWNLOAD=0 and the shared data sets), warmed by one student through the whole flow, then measured for one
student alone (the baseline) and for each class size. A student:
  1. open          GET /_stcore/health (the XSRF cookie), the websocket /_stcore/stream (subprotocol "streamlit"),
                   then BackMsg.rerun_script for the page `inside` with `model=<model>` (page_name and query_string,
                   as a browser that opens /inside?model=cifar_cnn sends them)
  2. choose upload the image source radio set to its upload option (a widget state in the rerun's WidgetStates)
  3. upload        BackMsg.file_urls_request, the photo PUT to the URL it returns (multipart, as the frontend's
                   uploadFileUploaderFile sends it), then a rerun with the file uploader's FileUploaderState
  4. Grad-CAM      the view switch (a segmented control, inside a fragment) set to "where it looks": a fragment rerun
Every student takes each step in the same instant (a barrier), each with a new photo (a distinct 640x480-ish JPEG per
student and round). Widget ids are read from the element protos the server sends, never hard-coded.
Latency of a step: from its first message (for open: from the health request) to ForwardMsg.script_finished.
Errors: exception elements, st.error alerts, a step's result missing (the photo's size, "network says", the
Grad-CAM caption), a socket closed, an upload refused, a timeout; a student whose step failed skips the rest
(each skipped step counts as an error). Costs: the server's CPU seconds (utime + stime of the app's process group,
from /proc) per student step, and this process's own CPU seconds (what the simulated class costs the machine).

Baseline: one student alone on the same warm server; each class size is reported as p95(N) / p50(1).
Goal: 50 students uploading in the same instant with p95 under 3 s and no errors.

--replicas K (K > 1) starts K app replicas and nginx in front of them on loopback, as tests/e2e/test_e2e_replicas.py
does (streamlit_browser.Cluster renders deploy/nginx.conf), and sends every student through nginx: each student keeps
the cookies nginx hands it (the route key cnnviz_route, Streamlit's XSRF cookie) for its websocket and its upload, so
it stays on one replica, which the sidebar's "Server: rN" names. Each replica is warmed directly (not through nginx);
server CPU is the sum of the replicas' process groups; nginx's CPU and each replica's share are reported apart.

    .venv/bin/python bench/bench_capacity.py [--students 10,25,50,100] [--rounds 3] [--model cifar_cnn] [--replicas 1]
"""
from __future__ import annotations

import argparse
import asyncio
import html
import io
import os
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
from PIL import Image, ImageDraw
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Common_pb2 import FileURLsRequest, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import streamlit_browser as sb  # noqa: E402  (starts the app as the README does; imports nothing from pytest)

HOST = "127.0.0.1"  # loopback only: the app is bound to it too
PAGE = "inside"  # the lesson's address (/inside), app/nav.py
ACTIONS = ("open", "choose upload", "upload", "Grad-CAM")
SHOWN = ("upload", "Grad-CAM")  # the steps in the latency table's main columns
TARGET_STUDENTS, TARGET_P95_S = 50, 3.0
STEP_TIMEOUT_S = 120.0  # one student's step, from its first message to script_finished
HTTP_TIMEOUT_S = 30.0  # one health request or upload PUT
SETTLE_S = 1.0  # pause between rounds, so one round's closing sessions do not load the next
MAX_MESSAGE_BYTES = 64 * 2**20  # the app allows 50 MB per ForwardMsg (.streamlit/config.toml)
XSRF_COOKIE = "_streamlit_xsrf"
REPLICA = re.compile(r"\*\*Server:\*\*\s*(\w+)")  # the sidebar's footer on a replica (app/state.py)
CLK_TCK = os.sysconf("SC_CLK_TCK")

# What each step must put on the page, and the controls it works (matched on option text, case-insensitive).
PREDICTION = "network says"  # app/lessons/inside.py: "The network says <b>cat</b> 87% sure"
CAM_CAPTION = "Grad-CAM for"  # the overlay's caption in the Grad-CAM view
UPLOAD_OPTION = re.compile(r"upload", re.I)  # the image source radio's option ("📤 Upload")
CAM_OPTION = re.compile(r"where it looks|grad-?cam", re.I)  # the view switch's option ("🔥 Where it looks")


class Failed(Exception):
    """A step that did not give the page it should have (the message says what was missing)."""


# ---- HTTP over asyncio streams: the health check (for the XSRF cookie) and the upload PUT ----------------------

async def http(port: int, method: str, path: str, headers: dict[str, str],
               body: bytes = b"") -> tuple[int, dict, list[str]]:
    """One HTTP/1.1 request on a fresh loopback connection; (status, lower-cased headers, every Set-Cookie)."""
    async with asyncio.timeout(HTTP_TIMEOUT_S):
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            head = {"Host": f"{HOST}:{port}", "Connection": "close", "Content-Length": str(len(body)), **headers}
            writer.write((f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items())
                          + "\r\n").encode("latin-1") + body)
            await writer.drain()
            raw = await reader.read()  # to EOF: Connection: close
        finally:
            writer.close()
    lines = raw.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        raise Failed(f"{method} {path}: no HTTP answer")
    answer, cookies = {}, []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        answer[name.strip().lower()] = value.strip()
        if name.strip().lower() == "set-cookie":
            cookies.append(value.strip())
    return int(lines[0].split()[1]), answer, cookies


def multipart(name: str, data: bytes, mime: str) -> tuple[bytes, str]:
    """The form the frontend PUTs: one part named after the file, holding it (FormData.append(name, file, name))."""
    boundary = f"----cnnvizbench{uuid.uuid4().hex}"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
            f"Content-Type: {mime}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# ---- one student: a websocket session, as the frontend keeps it ---------------------------------------------------

@dataclass
class Widget:
    """A widget as the last run drew it: its element kind, its proto and the fragment it belongs to."""
    kind: str
    proto: object
    fragment_id: str


@dataclass
class Run:
    """What one script run sent, until its script_finished."""
    done: asyncio.Event = field(default_factory=asyncio.Event)
    texts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    widgets: list[Widget] = field(default_factory=list)
    images: int = 0
    new_session: bool = False

    def text(self) -> str:
        return "\n".join(self.texts)


@dataclass
class Photo:
    data: bytes
    name: str
    size: str  # "641×479": how the page describes it ("641×479 pixels, colour")


def photo(take: int, student: int) -> Photo:
    """A photo-like JPEG new to the server: smooth colours, a shape, fine grain; its size tells whose it is."""
    rng = np.random.default_rng((take, student))
    w, h = 641 + student % 100, 479 - take % 50
    image = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    pen = ImageDraw.Draw(image)
    x, y = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
    pen.ellipse([x, y, x + w // 3, y + h // 3], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    grain = rng.integers(-8, 9, (h, w, 3))
    image = Image.fromarray(np.clip(np.asarray(image, dtype=np.int16) + grain, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return Photo(out.getvalue(), f"student{student:03d}-take{take}.jpg", f"{w}×{h}")


def wire_option(option) -> str:
    """A segmented control's option as its value travels: the frontend joins the split-off icon and the text."""
    return f"{option.content_icon} {option.content}".strip() if option.content_icon else option.content


class Student:
    """One browser tab, reduced to its protocol: widget states, the message cache, the page's address."""

    def __init__(self, port: int, model: str, timeout_s: float) -> None:
        self.port, self.timeout_s = port, timeout_s
        self.origin = f"http://{HOST}:{port}"
        self.query = f"model={model}"  # the address bar's query; the app rewrites it (page_info_changed)
        self.page_hash = ""  # empty until the server names the page (new_session / navigation)
        self.session_id = ""
        self.xsrf = ""
        self.cookies: dict[str, str] = {}  # this student's cookie jar: the XSRF cookie, behind nginx its route key
        self.replica = ""  # the replica that served it, when the sidebar names one
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task | None = None
        self.states: dict[str, WidgetState] = {}  # widget id -> the value this student gave it
        self.widgets: list[Widget] = []  # as the last full run (and later fragment runs) drew them
        self.cache: dict[str, tuple[bytes, int, str]] = {}  # hash -> (message, run count when last used, fragment)
        self.run_count, self.max_cache_age = 0, 2
        self.run: Run | None = None  # the run a request of ours is waiting for
        self.last: Run | None = None  # the current step's last run (its problems explain a failed check)
        self.url_requests: dict[str, asyncio.Future] = {}
        self.closed: str | None = None
        self.broken: str | None = None  # why this student stopped (its later steps are skipped)
        self.evidence: dict[str, str] = {}  # step -> what it showed (for the report)

    # -- the connection
    async def connect(self) -> None:
        """Health check (it sets the XSRF cookie, as for the browser), then the websocket with that token."""
        status, _, cookies = await http(self.port, "GET", "/_stcore/health", {"Origin": self.origin})
        if status != 200:
            raise Failed(f"health check answered {status}")
        self.keep(cookies)
        self.xsrf = self.cookies.get(XSRF_COOKIE, "")
        # The second subprotocol entry carries the XSRF token (starlette_websocket._parse_subprotocols).
        protocols = ["streamlit", self.xsrf] if self.xsrf else ["streamlit"]
        self.ws = await connect(f"ws://{HOST}:{self.port}/_stcore/stream", origin=self.origin,
                                subprotocols=protocols, additional_headers=self.cookie_header(), proxy=None,
                                open_timeout=HTTP_TIMEOUT_S, close_timeout=5, ping_interval=None,
                                max_size=MAX_MESSAGE_BYTES)
        self.keep(self.ws.response.headers.get_all("Set-Cookie"))
        self.reader = asyncio.create_task(self.read())

    def keep(self, set_cookies: list[str]) -> None:
        """Store the cookies a response set (name=value; attributes are ignored: all are for this one host)."""
        for header in set_cookies:
            name, sep, value = header.split(";", 1)[0].strip().partition("=")
            if sep and name:
                self.cookies[name] = value

    def cookie_header(self) -> dict[str, str]:
        jar = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return {"Cookie": jar} if jar else {}

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 10)
            except (TimeoutError, OSError, ConnectionClosed):
                pass
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)

    async def read(self) -> None:
        try:
            async for raw in self.ws:
                self.receive(raw)
        except ConnectionClosed as exc:
            self.closed = f"socket closed ({exc})"
        finally:
            self.closed = self.closed or "socket closed"
            if self.run is not None:
                self.run.problems.append(self.closed)
                self.run.done.set()
            for future in self.url_requests.values():
                if not future.done():
                    future.set_exception(Failed(self.closed))

    # -- messages from the server
    def receive(self, raw: bytes) -> None:
        msg = ForwardMsg.FromString(raw)
        if msg.WhichOneof("type") == "ref_hash":  # a message this client said it holds (cached_message_hashes)
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                self.problem(f"cache miss for ForwardMsg {msg.ref_hash}")
                return
            self.cache[msg.ref_hash] = (cached[0], self.run_count, cached[2])
            msg = ForwardMsg.FromString(cached[0])
        elif msg.metadata.cacheable and msg.hash:
            self.cache[msg.hash] = (raw, self.run_count, msg.delta.fragment_id)
        kind = msg.WhichOneof("type")
        run = self.run or Run()  # anything outside a request of ours is read and dropped
        if kind == "new_session":
            run.new_session = True
            self.page_hash = msg.new_session.page_script_hash or self.page_hash
            if msg.new_session.HasField("initialize"):
                self.session_id = msg.new_session.initialize.session_id
            self.max_cache_age = msg.new_session.config.max_cached_message_age or self.max_cache_age
        elif kind == "navigation" and msg.navigation.page_script_hash:
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "page_not_found":
            run.problems.append(f"page not found: {msg.page_not_found.page_name!r}")
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self.element(run, msg.delta.new_element, msg.delta.fragment_id)
        elif kind == "file_urls_response":
            future = self.url_requests.pop(msg.file_urls_response.response_id, None)
            if future is not None and not future.done():
                future.set_result(msg.file_urls_response)
        elif kind == "script_finished":
            status = msg.script_finished
            if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return  # the server starts the next run by itself: keep waiting for that one's end
            if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                run.problems.append("script finished with a compile error")
            if run.new_session:  # the frontend ages its cache after full runs only (hasReceivedNewSession)
                self.age_cache()
            run.done.set()

    def element(self, run: Run, element, fragment_id: str) -> None:
        kind = element.WhichOneof("type")
        if kind is None:
            return
        body = getattr(element, kind)
        if kind == "exception":
            run.problems.append(f"exception on the page: {body.type}: {body.message[:300]}")
        elif kind == "alert":
            run.texts.append(body.body)
            if body.format == Alert.ERROR:
                run.problems.append(f"st.error on the page: {body.body[:300]}")
        elif kind in ("markdown", "heading", "text"):
            run.texts.append(body.body)
        elif kind == "imgs":
            run.texts.extend(img.caption for img in body.imgs)
            run.images += len(body.imgs)
        if "id" in body.DESCRIPTOR.fields_by_name and body.id:
            widget = Widget(kind, body, fragment_id)
            run.widgets.append(widget)
            self.widgets = [w for w in self.widgets if w.proto.id != body.id] + [widget]

    def age_cache(self) -> None:
        self.run_count += 1
        for key, (_, used, _) in list(self.cache.items()):
            if self.run_count - used > self.max_cache_age:
                del self.cache[key]

    def problem(self, text: str) -> None:
        if self.run is not None:
            self.run.problems.append(text)

    # -- requests to the server
    async def rerun(self, page_name: str = "", fragment_id: str = "") -> Run:
        """BackMsg.rerun_script with every widget value this student set, as the frontend's sendRerunBackMsg."""
        if self.closed:
            raise Failed(self.closed)
        state = ClientState(query_string=self.query, page_script_hash=self.page_hash, page_name=page_name,
                            fragment_id=fragment_id, cached_message_hashes=list(self.cache))
        state.widget_states.widgets.extend(self.states.values())
        info = state.context_info
        info.timezone, info.timezone_offset, info.locale, info.color_scheme = "Europe/London", 0, "en-GB", "light"
        info.url = f"{self.origin}/{PAGE}?{self.query}"
        self.run = self.last = run = Run()
        await self.ws.send(BackMsg(rerun_script=state).SerializeToString())
        await run.done.wait()
        self.run = None
        return run

    def widget(self, kind: str, option: re.Pattern, text=lambda o: o) -> tuple[Widget, object]:
        """The `kind` widget drawn last that has an option matching `option`, and that option."""
        for w in reversed(self.widgets):
            if w.kind == kind:
                for o in w.proto.options:
                    if option.search(text(o)):
                        return w, o
        raise Failed(f"no {kind} with an option matching {option.pattern!r} on the page")

    # -- the steps
    async def open(self, _: Photo) -> Run:
        await self.connect()
        run = await self.rerun(page_name=PAGE)
        if PREDICTION not in run.text():
            raise Failed(f"no {PREDICTION!r} on the page")
        found = REPLICA.search(run.text())
        self.replica = found.group(1) if found else self.replica
        return run

    async def choose_upload(self, _: Photo) -> Run:
        radio, option = self.widget("radio", UPLOAD_OPTION)
        self.states[radio.proto.id] = WidgetState(id=radio.proto.id, string_value=option)
        run = await self.rerun(fragment_id=radio.fragment_id)
        if not any(w.kind == "file_uploader" for w in run.widgets):
            raise Failed("no file uploader on the page")
        return run

    async def upload(self, picture: Photo) -> Run:
        uploader = next((w for w in reversed(self.widgets) if w.kind == "file_uploader"), None)
        if uploader is None:
            raise Failed("no file uploader on the page")
        request = uuid.uuid4().hex
        future = self.url_requests[request] = asyncio.get_running_loop().create_future()
        await self.ws.send(BackMsg(file_urls_request=FileURLsRequest(
            request_id=request, file_names=[picture.name], session_id=self.session_id)).SerializeToString())
        response = await future
        if response.error_msg or not response.file_urls:
            raise Failed(f"no upload URL ({response.error_msg or 'empty answer'})")
        urls = response.file_urls[0]
        body, content_type = multipart(picture.name, picture.data, "image/jpeg")
        status, _, cookies = await http(self.port, "PUT", urljoin("/", urls.upload_url),
                                        {"Origin": self.origin, "Content-Type": content_type,
                                         "X-Xsrftoken": self.xsrf, **self.cookie_header()}, body)
        self.keep(cookies)
        if status != 204:
            raise Failed(f"the upload PUT answered {status}")
        value = WidgetState(id=uploader.proto.id)
        value.file_uploader_state_value.uploaded_file_info.append(UploadedFileInfo(
            file_id=urls.file_id, name=picture.name, size=len(picture.data), file_urls=urls))
        self.states[uploader.proto.id] = value
        run = await self.rerun(fragment_id=uploader.fragment_id)
        text = run.text()
        if f"{picture.size} pixels" not in text or PREDICTION not in text:
            raise Failed(f"the page does not show the photo ({picture.size} pixels) and its prediction")
        self.evidence["upload"] = " · ".join(plain(line) for t in run.texts for line in t.splitlines()
                                             if PREDICTION in line or picture.size in line)
        return run

    async def grad_cam(self, _: Photo) -> Run:
        switch, option = self.widget("button_group", CAM_OPTION, wire_option)
        value = WidgetState(id=switch.proto.id)
        value.string_array_value.data.append(wire_option(option))
        self.states[switch.proto.id] = value
        run = await self.rerun(fragment_id=switch.fragment_id)
        if CAM_CAPTION not in run.text():
            raise Failed(f"no {CAM_CAPTION!r} caption on the page")
        self.evidence["Grad-CAM"] = (f"{' · '.join(plain(t) for t in run.texts if CAM_CAPTION in t)} "
                                     f"({run.images} images, fragment run)")
        return run

    async def step(self, action: str, picture: Photo) -> Outcome:
        """One step, timed from its first message to script_finished, bounded by the step timeout."""
        if self.broken:
            return Outcome(None, f"{action}: skipped ({self.broken})")
        do: Callable[[Photo], Awaitable[Run]] = {"open": self.open, "choose upload": self.choose_upload,
                                                  "upload": self.upload, "Grad-CAM": self.grad_cam}[action]
        self.last = None
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                run = await do(picture)
            seconds = time.perf_counter() - start
        except TimeoutError:
            self.broken = f"{action} timed out"
            return Outcome(None, f"{action}: no script_finished within {self.timeout_s:g} s")
        except (Failed, ConnectionClosed, InvalidHandshake, OSError) as exc:
            self.broken = f"{action} failed"
            problems = self.last.problems if self.last is not None else []
            return Outcome(None, f"{action}: {exc}" + (f" [{'; '.join(problems)}]" if problems else ""))
        if run.problems:
            self.broken = f"{action} failed"
            return Outcome(seconds, f"{action}: {'; '.join(run.problems)}")
        return Outcome(seconds, None)


def plain(text: str) -> str:
    """A page text without its HTML, on one line."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


# ---- a class: N students, each step in the same instant ------------------------------------------------------------

@dataclass
class Outcome:
    seconds: float | None  # None: no script_finished came
    error: str | None


@dataclass
class Row:
    """All rounds of one class size."""
    students: int
    rounds: int = 0
    seconds: dict[str, list[float]] = field(default_factory=lambda: {a: [] for a in ACTIONS})
    errors: list[str] = field(default_factory=list)
    server_cpu: dict[str, float] = field(default_factory=lambda: {a: 0.0 for a in ACTIONS})
    wall: dict[str, float] = field(default_factory=lambda: {a: 0.0 for a in ACTIONS})
    client_cpu: float = 0.0
    evidence: dict[str, str] = field(default_factory=dict)
    replica_cpu: Counter = field(default_factory=Counter)  # replica -> its CPU-s over every step of every round
    replica_upload_cpu: Counter = field(default_factory=Counter)  # replica -> its CPU-s in the upload steps
    replica_students: Counter = field(default_factory=Counter)  # replica -> students it served, all rounds
    proxy_cpu: float = 0.0  # nginx's CPU-s over every step of every round

    def p(self, action: str, q: float) -> float:
        return float(np.percentile(self.seconds[action], q)) if self.seconds[action] else float("nan")

    def per_student(self, action: str) -> float:
        return self.server_cpu[action] / (self.rounds * self.students)


def cpu_s(pids: list[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
        except (OSError, IndexError, ValueError):
            continue  # gone between the listing and the read
    return ticks / CLK_TCK


def server_cpu_s(server: sb.Server) -> float:
    """utime + stime of the app's process group (make and streamlit, all their threads), in seconds."""
    return cpu_s(server.pids())


class Bench:
    """Students on one app server (`replicas` holds it, named ""), or on replicas behind nginx (`proxy`)."""

    def __init__(self, replicas: dict[str, sb.Server], port: int, model: str, timeout_s: float,
                 proxy: sb.Cluster | None = None) -> None:
        self.replicas, self.port, self.proxy = replicas, port, proxy
        self.model, self.timeout_s = model, timeout_s
        self.takes = 0  # every round of every class gets photos no earlier round used

    def cpu(self) -> tuple[dict[str, float], float]:
        """CPU-s so far of each replica's process group, and of nginx (0 without it)."""
        return ({name: server_cpu_s(s) for name, s in self.replicas.items()},
                cpu_s(self.proxy.nginx_pids()) if self.proxy is not None else 0.0)

    async def round(self, row: Row, port: int | None = None) -> None:
        n = row.students
        self.takes += 1
        photos = [photo(self.takes, i) for i in range(n)]
        students = [Student(port or self.port, self.model, self.timeout_s) for _ in range(n)]
        try:
            for action in ACTIONS:
                (cpu0, proxy0), client0, wall0 = self.cpu(), time.process_time(), time.perf_counter()
                # The barrier: every student's step starts in this one event-loop turn; the gather ends when
                # each has its script_finished, an error, or its timeout.
                outcomes = await asyncio.gather(*(s.step(action, p) for s, p in zip(students, photos)))
                client1, wall1 = time.process_time(), time.perf_counter()
                cpu1, proxy1 = self.cpu()
                spent = {name: cpu1[name] - cpu0[name] for name in cpu0}
                row.server_cpu[action] += sum(spent.values())
                row.replica_cpu.update(spent)
                if action == "upload":
                    row.replica_upload_cpu.update(spent)
                row.proxy_cpu += proxy1 - proxy0
                row.client_cpu += client1 - client0
                row.wall[action] += wall1 - wall0
                row.seconds[action] += [o.seconds for o in outcomes if o.error is None]
                row.errors += [o.error for o in outcomes if o.error is not None]
            row.evidence = students[0].evidence
            row.replica_students.update(s.replica or "?" for s in students)
        finally:
            await asyncio.gather(*(s.close() for s in students))
        row.rounds += 1
        await asyncio.sleep(SETTLE_S)

    async def measure(self, students: int, rounds: int, port: int | None = None) -> Row:
        row = Row(students)
        for _ in range(rounds):
            await self.round(row, port)
        return row


# ---- the report ------------------------------------------------------------------------------------------------------

def report(rows: list[Row], base: Row, model: str, replicas: list[str] | None = None) -> None:
    def ratio(row: Row, action: str) -> str:
        return f"{row.p(action, 95) / base.p(action, 50):6.1f}" if base.seconds[action] else "     —"

    print(f"\nInside a model ({model}): every student takes each step in the same instant. Latency from the step's "
          "first message to script_finished, s; ×base = p95(N) / p50(1).")
    head = "".join(f" | {a + ' p50':>13} {'p95':>6} {'max':>6} {'×base':>6}" for a in SHOWN)
    print(f"{'students':>8} {'rounds':>6}{head} | {'open p95':>8} {'choose p95':>10} | {'errors':>6}")
    for row in [base, *rows]:
        cells = "".join(f" | {row.p(a, 50):13.2f} {row.p(a, 95):6.2f} {row.p(a, 100):6.2f} {ratio(row, a)}"
                        for a in SHOWN)
        name = f"{row.students}{' (base)' if row is base else ''}"
        print(f"{name:>8} {row.rounds:>6}{cells} | {row.p('open', 95):8.2f} {row.p('choose upload', 95):10.2f} | "
              f"{len(row.errors):>6}")

    print("\nCost. Server: CPU-s of the app's processes per student step, and the cores it kept busy meanwhile. "
          "Client: this process's CPU-s for all its simulated students.")
    head = "".join(f" {a:>13}" for a in ACTIONS)
    print(f"{'students':>8}{head} | {'cores (upload)':>14} | {'client CPU-s':>12} {'per step':>9}")
    for row in [base, *rows]:
        cells = "".join(f" {row.per_student(a):13.3f}" for a in ACTIONS)
        cores = row.server_cpu["upload"] / row.wall["upload"] if row.wall["upload"] else float("nan")
        steps = row.rounds * row.students * len(ACTIONS)
        print(f"{row.students:>8}{cells} | {cores:14.2f} | {row.client_cpu:12.2f} {row.client_cpu / steps:9.4f}")

    if replicas:
        print("\nReplicas (students went through nginx; each one's replica read from its sidebar, '?' if none). "
              "Students: sessions each served, all rounds. CPU-s: each replica's process group over every step; "
              "upload cores: its CPU-s in the upload steps / their wall time; nginx: its master and workers.")
        head = "".join(f" | {name + ' students':>11} {'CPU-s':>7} {'upl cores':>9}" for name in replicas)
        print(f"{'students':>8}{head} | {'nginx CPU-s':>11}")
        for row in [base, *rows]:
            cells = "".join(f" | {row.replica_students[name]:>11} {row.replica_cpu[name]:7.1f} "
                            f"{row.replica_upload_cpu[name] / row.wall['upload'] if row.wall['upload'] else 0:9.2f}"
                            for name in replicas)
            unknown = f" (+{row.replica_students['?']} unnamed)" if row.replica_students["?"] else ""
            print(f"{row.students:>8}{cells} | {row.proxy_cpu:11.2f}{unknown}")

    for row in [base, *rows]:
        shown = "; ".join(f"{k}: {v}" for k, v in row.evidence.items()) or "none (its first student failed)"
        print(f"evidence, {row.students} student(s), last round, first student: {shown}")
    for row in [base, *rows]:
        for error in sorted(set(row.errors))[:5]:
            print(f"  error ({row.students} students, x{row.errors.count(error)}): {error}")

    goal = next((r for r in rows if r.students == TARGET_STUDENTS), None)
    if goal is None:
        print(f"\ngoal ({TARGET_STUDENTS} students uploading at once, p95 < {TARGET_P95_S:.0f} s, no errors): not "
              f"measured in this run (add {TARGET_STUDENTS} to --students)")
    else:
        met = not goal.errors and goal.p("upload", 95) < TARGET_P95_S
        print(f"\ngoal ({TARGET_STUDENTS} students uploading at once, p95 < {TARGET_P95_S:.0f} s, no errors): "
              f"{'MET' if met else 'NOT met'} (upload p95 {goal.p('upload', 95):.2f} s, {len(goal.errors)} errors)")


async def run(bench: Bench, args: argparse.Namespace) -> tuple[list[Row], Row]:
    # The warm-up loads PyTorch, the model and the data sets: not counted. Behind nginx each replica is warmed on
    # its own port (through nginx one student would warm one replica, chosen at random).
    warm_ups = [("", None)] if bench.proxy is None else [(name, s.port) for name, s in bench.replicas.items()]
    for name, port in warm_ups:
        start = time.perf_counter()
        warm = await bench.measure(1, 1, port)
        where = f" of {name} (one student on its own port, every step)" if name else " (one student, every step)"
        print(f"warm-up{where}: {time.perf_counter() - start:.1f} s, errors {len(warm.errors)}")
        if warm.errors:
            raise SystemExit(f"the warm-up student{' on ' + name if name else ''} failed, so would every student:"
                             "\n  " + "\n  ".join(warm.errors))
    base = await bench.measure(1, args.baseline_rounds)
    print(f"baseline: one student alone, {args.baseline_rounds} rounds: upload p50 {base.p('upload', 50):.2f} s, "
          f"Grad-CAM p50 {base.p('Grad-CAM', 50):.2f} s")
    rows = []
    for n in args.students:
        rows.append(await bench.measure(n, args.rounds))
        row = rows[-1]
        print(f"{n} students, {args.rounds} rounds: upload p95 {row.p('upload', 95):.2f} s, Grad-CAM p95 "
              f"{row.p('Grad-CAM', 95):.2f} s, errors {len(row.errors)}", flush=True)
    return rows, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=lambda s: [int(n) for n in s.split(",")], default=[10, 25, 50, 100],
                        help="class sizes, comma-separated (default 10,25,50,100)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per class size, each with new sessions and "
                        "new photos (default 3)")
    parser.add_argument("--baseline-rounds", type=int, default=5, help="rounds of the one-student baseline")
    parser.add_argument("--model", default="cifar_cnn")
    parser.add_argument("--timeout", type=float, default=STEP_TIMEOUT_S, help="s per student step (default 120)")
    parser.add_argument("--replicas", type=int, default=1, help="app replicas; above 1, behind nginx on loopback as "
                        "deploy/nginx.conf puts them (default 1: one server, no proxy)")
    args = parser.parse_args()
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")

    env = {"CNNVIZ_DOWNLOAD": "0", "STREAMLIT_SERVER_ADDRESS": HOST}
    shared = ROOT.parent / "shared" / "datasets"
    if "CNNVIZ_DATA_DIR" not in os.environ and shared.is_dir():
        env["CNNVIZ_DATA_DIR"] = str(shared)  # as tests/conftest.py does
    if args.replicas > 1:
        replicated(args, env)
        return
    log = ROOT / "artifacts" / "capacity" / "server.log"
    server = sb.Server(log, port=sb.free_port(), env=env)
    try:
        started = server.wait_healthy()
        print(f"app up on {HOST}:{server.port} after {started:.1f} s (log: {log.relative_to(ROOT)}); "
              f"{os.cpu_count()} CPUs; a busy machine makes every figure worse")
        rows, base = asyncio.run(run(Bench({"": server}, server.port, args.model, args.timeout), args))
        report(rows, base, args.model)
        tracebacks = server.log().count("Traceback")
        print(f"tracebacks in the server log: {tracebacks}")
    finally:
        server.stop()


def replicated(args: argparse.Namespace, env: dict[str, str]) -> None:
    """The same class on args.replicas replicas behind nginx (streamlit_browser.Cluster), every student through it."""
    if not Path(sb.NGINX).is_file():
        raise SystemExit(f"--replicas {args.replicas} needs nginx ({sb.NGINX} not found: apt-get install nginx)")
    logs = ROOT / "artifacts" / "capacity"
    with tempfile.TemporaryDirectory(prefix="cnnviz-capacity-") as tmp:
        cluster = sb.Cluster(Path(tmp), env=env, replicas=args.replicas, logs=logs)
        try:
            started = cluster.wait()
            ports = ", ".join(f"{name} {HOST}:{s.port}" for name, s in cluster.replicas.items())
            print(f"{args.replicas} replicas up ({ports}) behind nginx on {HOST}:{cluster.port} after {started:.1f} s "
                  f"(logs: {logs.relative_to(ROOT)}/server_rN.log, nginx.log); {os.cpu_count()} CPUs; a busy "
                  "machine makes every figure worse")
            bench = Bench(cluster.replicas, cluster.port, args.model, args.timeout, proxy=cluster)
            rows, base = asyncio.run(run(bench, args))
            report(rows, base, args.model, replicas=list(cluster.replicas))
            tracebacks = {name: s.log().count("Traceback") for name, s in cluster.replicas.items()}
            print("tracebacks in the server logs: " + ", ".join(f"{name} {n}" for name, n in tracebacks.items()))
            complaints = [line for line in cluster.nginx_log.read_text(errors="replace").splitlines()
                          if re.search(r"\[(error|crit|alert|emerg)\]", line)]
            print(f"nginx errors in its log: {len(complaints)}" + "".join(f"\n  {c[:300]}" for c in complaints[:5]))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
