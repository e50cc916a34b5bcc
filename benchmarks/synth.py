"""Seeded synthetic CRM contacts with known truth, for crmcore's benchmarks, tests and examples.

:func:`generate_contacts` builds a table of contact records as several source systems (web form,
billing, support, list import, API) would export them, with a truth column ``entity_id``:
records that share it describe the same real person.

What makes it hard (and realistic):

* people from ten countries (US, GB, DE, FR, ES, IT, NL, SE, AU, JP romanised) with names drawn
  from Zipf-weighted pools of about 600 given names (with nicknames) and 1,100 surnames, so common
  surnames really are common; country-appropriate phone numbers (valid under libphonenumber)
  and postcodes; companies built combinatorially with country-specific legal forms;
* duplicates (most entities are singletons, many pairs, some clusters of 3 to 6) whose fields
  vary: nicknames, typos (insert / delete / transpose / substitute), missing fields, email
  variants (case, Gmail dots, ``+tags``, another address), phone formats (national or
  international, spaces / dashes / parentheses, extensions, another number), legal-form
  variants (``Acme Inc`` / ``ACME Incorporated`` / ``Acme, Inc.``), title variants, swapped
  given / family names, moves, address abbreviations, country spelled out;
* hard negatives that are NOT duplicates: namesakes at one company (same name, same company,
  different person and email), households (same address and landline, different person),
  colleagues sharing a switchboard number with different extensions, and common surnames.

Generation is columnar (numpy draws over pools; Python only to format strings and to vary the
duplicates): a million rows take well under a minute.

Command line::

    python benchmarks/synth.py 100000 --seed 1 --out /tmp/contacts_100k.parquet

Example:
    >>> t = generate_contacts(50, seed=3)
    >>> t.n_rows, t.column_names[:3]
    (50, ['record_id', 'source_system', 'first_name'])
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crmcore.io import Table, write_table

__all__ = [
    "COLUMNS",
    "COUNTRIES",
    "HARD_NEGATIVE_KINDS",
    "NICKNAMES",
    "SOURCES",
    "TRUTH_COLUMN",
    "VARIANT_KINDS",
    "generate_contacts",
    "main",
]

COLUMNS: tuple[str, ...] = (
    "record_id",
    "source_system",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "title",
    "street",
    "city",
    "postcode",
    "country",
    "created_at",
)
"""The canonical columns of a generated table, in order (the truth column comes after them)."""

TRUTH_COLUMN = "entity_id"
"""Name of the truth column: records with equal values are the same real person."""

SOURCES: tuple[str, ...] = ("web_form", "billing", "support", "import", "api")
"""Default source systems; each has its own habits of leaving fields blank."""

VARIANT_KINDS: tuple[str, ...] = (
    "nickname",
    "typo_insert",
    "typo_delete",
    "typo_transpose",
    "typo_substitute",
    "missing_field",
    "email_case",
    "email_gmail_dots",
    "email_plus_tag",
    "email_other",
    "phone_format",
    "phone_ext",
    "phone_other",
    "company_legal_form",
    "company_case",
    "title_variant",
    "swap_names",
    "name_case",
    "moved",
    "address_format",
    "country_format",
)
"""Kinds of variation applied to duplicate records (listed per row with ``annotate=True``)."""

HARD_NEGATIVE_KINDS: tuple[str, ...] = ("namesake", "household")
"""Kinds of look-alike entities that are different people."""

# ---------------------------------------------------------------------------------------------
# Name pools. A token is ``Name`` or ``Name:nick/nick``. Order is roughly by frequency (pools are
# Zipf-weighted by rank). Underscores in surnames stand for spaces.

_FIRST_NAMES: dict[str, str] = {
    "EN": """
Robert:Bob/Rob/Bobby William:Bill/Will/Billy Elizabeth:Liz/Beth/Betty/Eliza
Katherine:Kate/Kathy/Katie James:Jim/Jimmy/Jamie John:Johnny/Jack Michael:Mike/Mikey
Mary:Molly/Polly David:Dave/Davey Jennifer:Jen/Jenny Richard:Rick/Rich/Dick Linda
Thomas:Tom/Tommy Patricia:Pat/Patty/Trish Christopher:Chris/Kit Sarah:Sally Daniel:Dan/Danny
Margaret:Maggie/Meg/Peggy Matthew:Matt Jessica:Jess/Jessie Anthony:Tony Susan:Sue/Susie
Joseph:Joe/Joey Karen Charles:Charlie/Chuck Nancy Andrew:Andy/Drew Lisa Edward:Ed/Eddie/Ted
Sandra:Sandy Steven:Steve Ashley Kevin Emily:Emmy Brian Donna Mark Michelle:Shelly
Paul Carol George Amanda:Mandy Kenneth:Ken/Kenny Melissa:Mel/Missy Stephen:Steve
Stephanie:Steph Timothy:Tim/Timmy Laura Ronald:Ron/Ronnie Rebecca:Becky/Becca Jason Sharon
Jeffrey:Jeff Angela:Angie Ryan Helen Jacob:Jake Anna Gary Brenda Nicholas:Nick/Nicky
Amy Eric Kathleen:Kathy/Kath Jonathan:Jon/Jonny Nicole:Nicky Benjamin:Ben/Benny Heather
Samuel:Sam/Sammy Diane Gregory:Greg Ruth Alexander:Alex/Xander Julie Patrick:Pat/Paddy
Olivia:Liv Frank:Frankie Joyce Raymond:Ray Victoria:Vicky/Tori Jack Joan Dennis:Denny
Evelyn:Evie Jerry Lauren Tyler Megan:Meg Aaron Hannah Henry:Hank/Harry Natalie:Nat Adam
Rachel Douglas:Doug Samantha:Sam/Sammy Nathan:Nate Grace Peter:Pete Alexandra:Alex/Lexi
Zachary:Zach/Zack Christine:Chris/Chrissy Kyle Abigail:Abby Walter:Walt Sophia:Sophie
Harold:Harry/Hal Chloe Philip:Phil Emma Lawrence:Larry Isabella:Bella/Izzy Albert:Al/Bert
Charlotte:Lottie Arthur:Art Amelia:Millie Frederick:Fred/Freddie Jacqueline:Jackie
Gerald:Gerry/Jerry Kimberly:Kim Leonard:Len/Lenny Pamela:Pam Nathaniel:Nate/Nat
Barbara:Barb/Babs Vincent:Vince Cynthia:Cindy Eugene:Gene Theresa:Tess/Terri
Theodore:Ted/Teddy/Theo Dorothy:Dot/Dottie Geoffrey:Geoff Catherine:Cathy/Cate
Bradley:Brad Frances:Fran Martin:Marty Judith:Judy Oliver:Ollie Madeline:Maddie
Randall:Randy Valerie:Val Russell:Russ Virginia:Ginny Terence:Terry Josephine:Jo/Josie
Victor:Vic Cassandra:Cassie Wesley:Wes Eleanor:Ellie/Nora Gabriel:Gabe Florence:Flo
Cameron:Cam Harriet:Hattie Clifford:Cliff Penelope:Penny Reginald:Reggie/Reg
Rosemary:Rosie Montgomery:Monty Gwendolyn:Gwen Percival:Percy Beatrice:Bea
Bartholomew:Bart Matilda:Tilly Alfred:Alf/Freddie Susanna:Susie Derek Scott Justin Sean
Ethan Noah Liam Lucas Mason Logan Owen Connor Dylan Luke Harry Oscar Alfie Archie Ava Mia
Ella Lily Zoe Lucy Holly Jade Brandon Joshua:Josh Ian Neil Carl Dean Graham Stuart Craig
Wayne Shane Troy Bruce Keith Glenn Bryce Mitchell:Mitch Kylie Shannon Tracey Leanne
""",
    "DE": """
Johannes:Hans/Jo Wolfgang:Wolf Friedrich:Fritz Katharina:Kathi/Katja Elisabeth:Lisa/Elli/Liesl
Andreas:Andi Christian:Chris Stefan Matthias:Matze Michael:Micha Susanne:Susi Thomas
Jürgen Günter Uwe Klaus Dieter Horst Manfred Heinz Karl-Heinz Ralf Jörg Sven Jens Torsten
Dirk Markus Tobias:Tobi Florian:Flo Sebastian:Basti Maximilian:Max Benedikt:Ben Lukas
Felix Jonas Leon Niklas Moritz Philipp Jan Kai Heike Sabine:Bine Monika:Moni
Ursula:Uschi/Ulla Petra Gabriele:Gabi Brigitte:Gitte Renate Ingrid Birgit Anja Claudia
Stefanie:Steffi Franziska:Franzi Johanna:Hanna Anneliese Gertrud:Trude Hildegard:Hilde
Annika Lena Leonie Mareike Sophie Charlotte:Lotte Greta Frieda Jutta Karin Doris Silke Ute
Bärbel Kerstin Tanja Nadine Simone Julia Laura Marie Emilia Hannah Finn Paul Elias Henrik
""",
    "FR": """
Jean Jean-Pierre Jean-Luc Jean-Marc François Philippe Michel Alain Patrick Nicolas:Nico
Christophe Pierre Laurent Frédéric:Fred Stéphane Sébastien:Seb Julien Guillaume Olivier
Thierry Éric Benoît Mathieu Antoine Hugo Théo Louis Lucas Raphaël Arthur Maxime:Max
Baptiste Clément Romain Vincent Marie Nathalie Isabelle:Isa Sylvie Catherine Françoise
Christine Monique Valérie Sandrine Sophie Céline Stéphanie:Steph Aurélie Émilie Julie
Camille Manon Chloé Léa Inès Hélène Élodie Mathilde Juliette Margaux Anaïs Brigitte
Véronique:Véro Dominique Pascale Geneviève Agnès Cécile Josiane Élise Gabriel Jules Adrien
Quentin Thibault Bastien Amélie Océane Pauline Lucie Marine Claire Anne Martine Annie
""",
    "ES": """
José:Pepe Francisco:Paco/Pancho/Curro Manuel:Manolo/Manu Antonio:Toño/Toni Juan
Javier:Javi Jesús:Chuy Carlos David Daniel:Dani Miguel Rafael:Rafa Pedro Alejandro:Álex
Fernando:Fer Sergio Pablo Jorge Alberto:Beto Luis Ignacio:Nacho Enrique:Quique Ramón
Andrés Diego Álvaro Adrián Rubén Iván Óscar Guillermo:Guille Santiago:Santi María Carmen
Dolores:Lola Concepción:Concha Guadalupe:Lupe Pilar:Pili Rosario:Charo Josefa:Pepa
Francisca:Paca/Paqui Isabel:Isa Ana Laura Cristina Marta Lucía Elena Raquel Beatriz:Bea
Sara Paula Rocío Nuria Silvia Patricia Mercedes:Merche Inmaculada:Inma Montserrat:Montse
Teresa:Tere Alicia Esther Irene Sofía Alba Jordi Marc Xavier Núria Ainhoa Iker Unai
""",
    "IT": """
Giuseppe:Beppe/Peppe/Pino Francesco:Franco/Checco Giovanni:Gianni/Nino Alessandro:Sandro/Ale
Antonio:Tonino Salvatore:Totò/Turi Roberto:Berto Marco Luca Andrea Matteo Lorenzo:Enzo
Stefano Paolo Massimo:Max Davide Simone Federico:Fede Riccardo Giorgio Fabio Claudio
Maurizio Vincenzo:Enzo Domenico:Mimmo Pietro Emanuele:Manu Tommaso:Tommy Gabriele:Lele
Leonardo:Leo Giulia Francesca:Franca Chiara Sara Martina Valentina:Vale Alessandra:Sandra
Federica:Fede Elisa Silvia Paola Roberta Elena Laura Anna Giovanna:Gianna Maria Rosa Lucia
Caterina:Rina Beatrice:Bice Ilaria Serena Monica Simona Daniela Cristina Barbara Alessia
Giorgia Aurora Sofia Ginevra Benedetta Carlo Mario Bruno Sergio Alberto Enrico Filippo
""",
    "NL": """
Johannes:Jan/Hans/Joop Cornelis:Kees/Cor Wilhelmus:Wim Hendrik:Henk/Rik Jacobus:Koos/Jaap
Pieter:Piet Gerardus:Gerard/Gert Adrianus:Ad/Adriaan Theodorus:Theo/Ruud Petrus:Peter
Antonius:Toon/Ton Bastiaan:Bas Maarten Willem:Wim Sander Joost Thijs Daan Sem Lars Ruben
Bram Jeroen Niels Stijn Arjen Marloes Johanna:Anneke Maria:Mieke/Marieke Wilhelmina:Mien/Wil
Cornelia:Corrie/Nel Geertruida:Truus/Geertje Hendrika:Riek/Henny Femke Sanne Lotte Anouk
Fleur Lieke Eva Saskia Esther Ingrid Marjolein Annelies Margriet Inge Joke Tineke Floor
""",
    "SE": """
Erik Lars Karl:Kalle Anders Johan Per Nils Björn Gustav:Gösta Olof:Olle Mikael:Micke Magnus
Fredrik:Fredde Henrik Mattias Daniel Jonas Oskar Axel Emil Viktor Sven Stefan Ulf Bengt
Göran Astrid Ingrid Karin Elin Maja Katarina:Kajsa/Kattis Kristina:Stina
Margareta:Greta/Maggan Birgitta:Bitte/Gittan Elisabet:Lisa Anna Eva Sara Emma Linnea Ebba
Frida Sofia Hanna Johanna Malin Annika Lena Helena Ulrika Agneta Siv Gunilla Wilma Alva
""",
    "JP": """
Hiroshi Takeshi Kenji Yuki Haruto Sota Ren Yuto Hinata Kaito Daiki Shota Takumi Kazuki
Ryota Naoki Tatsuya Akira Satoshi Makoto Kenta Yusuke Daisuke Kohei Masato Takahiro
Tomohiro Shinji Koji Jun Yui Aoi Sakura Akiko Yoko Keiko Yumi Naomi Emi Mai Ayumi Haruka
Misaki Nanami Rina Saki Yuna Mio Hina Kaori Megumi Noriko Tomoko Hiroko Kyoko Miho Asuka
Chihiro Ayaka Natsuki
""",
}

_SURNAMES: dict[str, str] = {
    "EN": """
Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin
Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Hill
Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards
Collins Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Bell Kelly
Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray James Hughes Price Sanders Myers
Long Ross Foster Powell Jenkins Perry Russell Sullivan Fisher Henderson Coleman Simmons
Patterson Jordan Reynolds Hamilton Graham Wallace West Cole Hayes Bryant Gibson Ellis Stevens
Murray Ford Marshall Owens McDonald Harrison Kennedy Wells Hunt Palmer Black Robertson Holmes
Stone Mills Rose Hunter Lane Knight Grant Webb Burns Shaw Hart Porter Hudson Warren Dixon Fox
Gordon Spencer Armstrong Mason Walsh Crawford Boyd Dunn Rice Andrews Payne Arnold Elliott
Hawkins Lawrence Riley Carpenter Day Berry Hopkins Matthews Newman Chapman Fleming Lloyd
Barnes Cross Marsh Bishop Davies Hall Thomson Lee Clarke Griffiths Harvey Pearce Atkinson
Holland Webster Barker Lowe Bradley Pearson Sutherland Fraser MacLeod McKenzie Reid Kerr
Paterson Watt Munro Cameron Douglas Ferguson Gillespie Byrne Ryan O'Brien O'Connor O'Neill
Doyle McCarthy Gallagher Doherty Lynch Quinn Brennan Nolan Fitzgerald Moran Farrell Burke
Hogan Fitzpatrick O'Sullivan McGrath Abbott Ashton Atkins Austin Bates Baxter Bentley Blake
Booth Bowen Bowman Boyle Bradshaw Briggs Burton Butler Caldwell Cannon Carr Carroll Chambers
Chandler Clayton Conway Craig Curtis Dalton Dawson Dean Drake Duncan Dyer Eaton Farmer Fields
Fletcher Flynn Francis Freeman Frost Fuller Gardner Garner Gilbert Glover Goodwin Gough
Gregory Hale Hammond Hancock Hanson Hardy Harper Hartley Hayward Heath Hicks Higgins Hobbs
Hodges Holt Hood Hooper Horton Howe Humphries Ingram Jarvis Jennings Johnston Kemp Kirby
Knowles Lamb Lambert Law Lawson Leach Little Lucas Mann Manning Marsden McCoy Mead Miles Moss
Nash Newton Nicholls Norman Norris North Oliver Osborne Owen Page Parsons Peacock Perkins
Pope Potter Preston Pritchard Randall Read Rees Reeves Richards Rowe Sharp Shepherd Simpson
Slater Steele Stephens Sutton Swift Talbot Tanner Thornton Todd Townsend Tucker Vaughan Wade
Walters Watts Weaver Wheeler Whitehead Wilkinson Willis Winter Wolfe Woods Wyatt Yates
Martinez Rodriguez Hernandez Lopez Gonzalez Perez Sanchez Ramirez Torres Flores Rivera Gomez
Diaz Reyes Cruz Morales Ortiz Gutierrez Chavez Ramos Alvarez Mendoza Castillo Vasquez
Nguyen Tran Pham Wong Chen Zhang Liu Wang Li Huang Lin Kim Park Choi Singh Patel Khan Ali
Ahmed Shah Chowdhury Hussain Cohen Levy Schwartz Friedman Katz Goldberg Rosenberg Kaplan
""",
    "DE": """
Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer
Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange
Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König Walter
Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel Friedrich
Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht Schuster Simon
Ludwig Böhm Kraus Schumacher Krämer Vogt Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt
Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn Pohl Engel Horn Busch Bergmann Voigt
Sauer Wolff Pfeiffer Ernst Hesse Kunz Fink Ritter Böttcher Lindner Marx Franz Wendt
Brinkmann Gebhardt Kessler Thiele Hein Reuter Ebert Göbel Eckert Nowak Hildebrandt Kolb
Wirth Voss Hoppe Seifert Ackermann Dittrich Rieger Stark Heller Schenk Rudolf Gerlach Langer
Bock Haase Kraft Sander Wilhelm Mohr Petersen Reinhardt Ulrich Schiller Götz Menzel Beyer
Kaufmann Lenz Jansen Hartung Schütz Vetter Ahrens Bachmann Hauser Stahl Moser Thomsen
""",
    "FR": """
Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre
Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefèvre Mercier Dupont
Lambert Bonnet François Legrand Garnier Faure Rousseau Blanc Guérin Muller Henry Roussel
Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Fontaine Chevalier Robin Masson Gérard
Boyer Denis Lemaire Duval Joly Gautier Roger Roche Roy Noël Meunier Jean Marchand Dufour
Blanchard Marie Barbier Brun Dumas Brunet Leroux Colin Fernandez Pierre Renard Arnaud
Rolland Caron Aubert Giraud Leclerc Vidal Bourgeois Renaud Lemoine Picard Gaillard Philippe
Leclercq Lacroix Fabre Dupuis Olivier Da_Silva Hubert Louis Charles Guillot Rivière Le_Gall
Guillaume Adam Rey Moulin Lecomte Ménard Fleury Deschamps Carpentier Julien Benoît Maillard
Marchal Aubry Vasseur Le_Roux Renault Jacquet Collet Prévost Poirier Charpentier Royer Huet
Baron Dupuy Pons Paul Laine Carré Breton Rémy Perrot Guyot Barre Marty Cousin Lebrun
Bouvier Le_Goff Besson Tessier Bailly Hamon Lemaître Weber Klein Chauvin Pichon Bertin
""",
    "ES": """
García González Rodríguez Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz
Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres Domínguez Vázquez
Ramos Gil Ramírez Serrano Blanco Molina Morales Suárez Ortega Delgado Castro Ortiz Rubio
Marín Sanz Núñez Iglesias Medina Garrido Cortés Castillo Santos Lozano Guerrero Cano Prieto
Méndez Cruz Calvo Gallego Vidal León Márquez Herrera Peña Flores Cabrera Campos Vega Fuentes
Carrasco Díez Caballero Reyes Nieto Aguilar Pascual Santana Herrero Lorenzo Montero Hidalgo
Giménez Ibáñez Ferrer Durán Santiago Benítez Mora Vicente Vargas Arias Carmona Crespo Román
Pastor Soto Sáez Velasco Moya Soler Parra Esteban Bravo Gallardo Rojas de_la_Cruz
de_la_Fuente del_Río Pardo Merino Franco Espinosa Izquierdo Lara Rivas Silva Rivera Casado
Arroyo Redondo Camacho Rey Vera Otero Luque Galán Montes Ríos Sierra Segura Carrillo Marcos
Soriano Puig Vila Serra Roca Pujol Font Riera Sala Casas Etxeberria Aguirre Goikoetxea
""",
    "IT": """
Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti
De_Luca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro Mariani
Rinaldi Caruso Ferrara Galli Martini Leone Longo Gentile Martinelli Vitale Lombardo Serra
Coppola De_Santis D'Angelo Marchetti Parisi Villa Conte Ferraro Ferri Fabbri Bianco Marini
Grasso Valentini Messina Sala De_Angelis Gatti Pellegrini Palumbo Sanna Farina Rizzi Monti
Cattaneo Morelli Amato Silvestri Mazza Testa Grassi Pellegrino Carbone Giuliani Benedetti
Barone Rossetti Caputo Montanari Guerra Palmieri Bernardi Martino Fiore De_Rosa Ferretti
Bellini Basile Riva Donati Piras Vitali Battaglia Sartori Neri Costantini Milani Pagano
Ruggiero Sorrentino D'Amico Orlando Negri Bassi Leonardi Fumagalli Brambilla Ferraris
Cavalli Guidi Bonetti Lupo Marchi Cirillo Bianchini Pace Moro Ferro Zanetti Cattani
Rota Porcu Mele Melis Poli Gallina Gualtieri Mazzoni Zanella Bertolini Bonomi Colonna
""",
    "NL": """
de_Jong Jansen de_Vries van_den_Berg van_Dijk Bakker Janssen Visser Smit Meijer de_Boer
Mulder de_Groot Bos Vos Peters Hendriks van_Leeuwen Dekker Brouwer de_Wit Dijkstra Smits
de_Graaf van_der_Meer van_der_Linden Kok Jacobs de_Haan Vermeulen van_den_Heuvel
van_der_Veen van_den_Broek de_Bruijn de_Bruin van_der_Heijden Schouten van_Beek Willems
van_Vliet van_de_Ven Hoekstra Maas Verhoeven Koster van_Dam van_der_Wal Prins Blom Huisman
Peeters de_Jonge Kuipers van_Veen Post Kuiper Veenstra Kramer van_den_Brink Scholten
van_Wijk Postma Martens Vink de_Ruiter Timmermans Groen Gerritsen Jonker van_Loon Boer
van_der_Velde Willemsen Smeets de_Lange de_Vos Bosch van_Dongen Schipper de_Koning
van_der_Laan Koning van_der_Velden Driessen van_Doorn Hermans Evers van_den_Bosch
van_der_Meulen Hofman Bosman Wouters Verbeek Molenaar Zwart Kroon Bakx Mol Sluiter
""",
    "SE": """
Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson
Pettersson Jonsson Jansson Hansson Bengtsson Jönsson Lindberg Jakobsson Magnusson Olofsson
Lindström Lindqvist Lindgren Berg Axelsson Bergström Lundberg Lind Lundgren Lundqvist
Mattsson Berglund Fredriksson Sandberg Henriksson Forsberg Sjöberg Wallin Engström Eklund
Danielsson Lundin Håkansson Björk Bergman Gunnarsson Holm Wikström Samuelsson Isaksson
Fransson Bergqvist Nyström Holmberg Arvidsson Löfgren Söderberg Nyberg Blomqvist Claesson
Nordström Mårtensson Lundström Viklund Björklund Eliasson Pålsson Berggren Sandström Lund
Nordin Ström Åberg Ekström Holmgren Sundberg Hedlund Dahlberg Hellström Sjögren
Abrahamsson Falk Öberg Andreasson Blom Ek Månsson Strand Sundström Nordqvist Dahl Lindholm
""",
    "JP": """
Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada
Sasaki Yamaguchi Matsumoto Inoue Kimura Hayashi Shimizu Yamazaki Mori Abe Ikeda Hashimoto
Yamashita Ishikawa Nakajima Maeda Fujita Ogawa Goto Okada Hasegawa Murakami Kondo Ishii
Saito Sakamoto Endo Aoki Fujii Nishimura Fukuda Ota Miura Fujiwara Okamoto Matsuda
Nakagawa Nakano Harada Ono Tamura Takeuchi Kaneko Wada Nakayama Ishida Ueda Morita Hara
Shibata Sakai Kudo Yokoyama Miyazaki Miyamoto Uchida Takagi Ando Taniguchi Ohno Maruyama
Imai Takada Fujimoto Takeda Murata Ueno Sugiyama Masuda Sugawara Hirano Otsuka Koyama Chiba
Kubo Matsui Iwasaki Sakurai Kinoshita Noguchi Matsuo Kikuchi Nomura Arai Sano Onishi
Sugimoto Kawaguchi Yano Kawasaki Hirata Kojima Ishihara Tsuchiya Mizuno Kubota Nagai
""",
}

_CULTURES: tuple[str, ...] = ("EN", "DE", "FR", "ES", "IT", "NL", "SE", "JP")


def _parse_first(text: str) -> list[tuple[str, tuple[str, ...]]]:
    out: list[tuple[str, tuple[str, ...]]] = []
    for token in text.split():
        name, _, nicks = token.partition(":")
        out.append((name, tuple(nicks.split("/")) if nicks else ()))
    return out


def _build_names() -> tuple[
    list[str], dict[str, tuple[str, ...]], dict[str, np.ndarray], list[str], dict[str, np.ndarray]
]:
    first: list[str] = []
    first_index: dict[str, int] = {}
    nicknames: dict[str, tuple[str, ...]] = {}
    first_by_culture: dict[str, np.ndarray] = {}
    for culture in _CULTURES:
        idx: list[int] = []
        for name, nicks in _parse_first(_FIRST_NAMES[culture]):
            if name not in first_index:
                first_index[name] = len(first)
                first.append(name)
            if nicks:
                merged = dict.fromkeys((*nicknames.get(name, ()), *nicks))
                nicknames[name] = tuple(merged)
            if first_index[name] not in idx:
                idx.append(first_index[name])
        first_by_culture[culture] = np.asarray(idx, dtype=np.int64)
    last: list[str] = []
    last_index: dict[str, int] = {}
    last_by_culture: dict[str, np.ndarray] = {}
    for culture in _CULTURES:
        idx = []
        for token in _SURNAMES[culture].split():
            name = token.replace("_", " ")
            if name not in last_index:
                last_index[name] = len(last)
                last.append(name)
            if last_index[name] not in idx:
                idx.append(last_index[name])
        last_by_culture[culture] = np.asarray(idx, dtype=np.int64)
    return first, nicknames, first_by_culture, last, last_by_culture


_FIRST, NICKNAMES, _FIRST_BY_CULTURE, _LAST, _LAST_BY_CULTURE = _build_names()
"""NICKNAMES maps a canonical given name to the nicknames the generator may use for it."""


def _words(text: str) -> list[str]:
    return text.split()


def _zipf(k: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1, dtype=np.float64) ** s
    return w / w.sum()


# ---------------------------------------------------------------------------------------------
# Countries: phone plans (national significant number prefixes valid under libphonenumber),
# cities with postcode patterns ('#' digit, '@' UK inward letter, '%' Dutch letter) and landline
# prefixes, providers.

Prefix = tuple[str, int, int]  # (NSN prefix, NSN length, area-code length for display)


class _Country:
    __slots__ = (
        "cc",
        "cities",
        "code",
        "culture",
        "forms",
        "labels",
        "mobile",
        "providers",
        "streets",
        "tld",
        "trunk",
        "weight",
    )

    def __init__(self, **kw: Any) -> None:
        for key, value in kw.items():
            setattr(self, key, value)


_LEGAL_FORMS: dict[str, list[list[str]]] = {
    # per country: legal forms, each a list of renderings; the first is canonical; suffixes start
    # with the separator they need (" " or ", ").
    "US": [
        [" Inc", " Inc.", ", Inc.", " Incorporated", ", Inc"],
        [" LLC", " L.L.C.", ", LLC", " Llc"],
        [" Corp", " Corp.", " Corporation", ", Corp."],
    ],
    "GB": [[" Ltd", " Ltd.", " Limited", " LTD"], [" plc", " PLC", " Public Limited Company"]],
    "DE": [[" GmbH", " G.m.b.H.", " Gmbh", " GMBH"], [" AG", " Aktiengesellschaft"]],
    "FR": [[" SAS", " S.A.S.", " Sas"], [" SARL", " S.A.R.L.", " Sarl"], [" SA", " S.A."]],
    "ES": [[" S.L.", " SL", " S.L", " Sociedad Limitada"], [" S.A.", " SA", " Sociedad Anónima"]],
    "IT": [[" S.r.l.", " SRL", " Srl", " s.r.l."], [" S.p.A.", " SpA", " S.P.A."]],
    "NL": [[" B.V.", " BV", " B.V"], [" N.V.", " NV"]],
    "SE": [[" AB", " Aktiebolag", " Ab"]],
    "AU": [[" Pty Ltd", " Pty. Ltd.", " PTY LTD", " Proprietary Limited"]],
    "JP": [[" K.K.", " KK", " Kabushiki Kaisha", " Co., Ltd."]],
}

_STREETS: dict[str, tuple[str, list[str], list[tuple[str, str]]]] = {
    # style, names, (full, short) suffixes
    "US": (
        "num_first",
        _words(
            """
            Main Oak Maple Cedar Pine Elm Washington Lake Hill Park Sunset Market Lincoln Church
            Highland Madison Jefferson Franklin Ridge Walnut Spring Center
            """
        ),
        [("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Boulevard", "Blvd"),
         ("Drive", "Dr"), ("Lane", "Ln")],
    ),
    "GB": (
        "num_first",
        _words(
            """
            High Church Station Victoria Park London Mill Manor York Green Queens Kings Albert
            Grange Chapel Windsor Springfield Orchard Castle Bridge
            """
        ),
        [("Street", "St"), ("Road", "Rd"), ("Lane", "Ln"), ("Avenue", "Ave"), ("Close", "Cl"),
         ("Way", "Way")],
    ),
    "DE": (
        "name_first_joined",
        _words(
            """
            Haupt Bahnhof Schul Garten Berg Kirch Linden Wald Goethe Schiller Mozart Friedrich Dorf
            Ring Blumen Birken Post Markt
            """
        ),
        [("straße", "str."), ("weg", "weg"), ("allee", "allee"), ("platz", "pl.")],
    ),
    "FR": (
        "fr",
        ["de la Paix", "Victor Hugo", "de la République", "Jean Jaurès", "Pasteur",
         "du Général de Gaulle", "des Lilas", "Voltaire", "de la Gare", "Nationale",
         "Gambetta", "des Écoles", "du Moulin", "Saint-Michel"],
        [("rue", "rue"), ("avenue", "av."), ("boulevard", "bd"), ("place", "pl.")],
    ),
    "ES": (
        "type_first",
        ["Mayor", "Real", "de Alcalá", "Gran Vía", "del Sol", "San Juan", "de la Constitución",
         "Nueva", "Colón", "de Cervantes", "del Carmen", "de la Paz", "Serrano", "Princesa"],
        [("Calle", "C/"), ("Avenida", "Avda."), ("Paseo", "Pº"), ("Plaza", "Pza.")],
    ),
    "IT": (
        "type_first",
        ["Roma", "Garibaldi", "Mazzini", "Dante", "Verdi", "Cavour", "Vittorio Emanuele II",
         "Marconi", "Matteotti", "XX Settembre", "Manzoni", "San Martino", "Nazionale"],
        [("Via", "V."), ("Viale", "V.le"), ("Piazza", "P.za"), ("Corso", "C.so")],
    ),
    "NL": (
        "name_first_joined",
        _words(
            """
            Kerk Dorp School Molen Prinsen Keizers Heren Wilhelmina Juliana Beatrix Stations Markt
            Linden Eiken
            """
        ),
        [("straat", "str."), ("weg", "weg"), ("laan", "ln."), ("gracht", "gr.")],
    ),
    "SE": (
        "name_first_joined",
        _words(
            """
            Stor Kyrko Skol Drottning Kungs Ring Park Sjö Strand Björk Ekhags Linné
            """
        ),
        [("gatan", "g."), ("vägen", "v."), ("gränd", "gr.")],
    ),
    "AU": (
        "num_first",
        _words(
            """
            George Pitt Collins Elizabeth King Queen Flinders Bourke Hay Murray Victoria Albert
            Oxford Crown Chapel Swanston
            """
        ),
        [("Street", "St"), ("Road", "Rd"), ("Avenue", "Ave"), ("Parade", "Pde"),
         ("Terrace", "Tce")],
    ),
    "JP": (
        "jp",
        ["Shibuya", "Shinjuku", "Minato", "Chiyoda", "Chuo", "Meguro", "Setagaya", "Taito",
         "Umeda", "Namba", "Naka", "Nishi", "Kita", "Higashi", "Sakae", "Tenjin"],
        [("", "")],
    ),
}

_COUNTRY_TABLE: list[dict[str, Any]] = [
    {
        "code": "US", "weight": 0.30, "cc": "1", "trunk": "", "culture": "EN", "tld": ".com",
        "labels": ["US", "USA", "United States", "U.S.", "United States of America"],
        "providers": ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com",
                      "icloud.com", "comcast.net"],
        "mobile": [],
        "cities": [
            ("New York", 6, ["100##", "101##"], [("212", 10, 3), ("646", 10, 3)]),
            ("San Francisco", 3, ["941##"], [("415", 10, 3)]),
            ("Chicago", 4, ["606##"], [("312", 10, 3), ("773", 10, 3)]),
            ("Boston", 2, ["021##"], [("617", 10, 3)]),
            ("Seattle", 2, ["981##"], [("206", 10, 3)]),
            ("Austin", 2, ["787##"], [("512", 10, 3)]),
            ("Denver", 2, ["802##"], [("303", 10, 3)]),
            ("Atlanta", 2, ["303##"], [("404", 10, 3)]),
            ("Los Angeles", 5, ["900##"], [("213", 10, 3), ("310", 10, 3)]),
            ("Miami", 2, ["331##"], [("305", 10, 3)]),
            ("Portland", 1, ["972##"], [("503", 10, 3)]),
            ("Phoenix", 2, ["850##"], [("602", 10, 3)]),
            ("Dallas", 3, ["752##"], [("214", 10, 3)]),
            ("Philadelphia", 2, ["191##"], [("215", 10, 3)]),
            ("Minneapolis", 1, ["554##"], [("612", 10, 3)]),
            ("Springfield", 1, ["627##"], [("217", 10, 3)]),
        ],
    },
    {
        "code": "GB", "weight": 0.15, "cc": "44", "trunk": "0", "culture": "EN", "tld": ".co.uk",
        "labels": ["GB", "UK", "United Kingdom", "Great Britain", "U.K."],
        "providers": ["gmail.com", "hotmail.co.uk", "yahoo.co.uk", "btinternet.com",
                      "outlook.com", "sky.com"],
        "mobile": [("77", 10, 4), ("78", 10, 4), ("79", 10, 4), ("74", 10, 4), ("75", 10, 4)],
        "cities": [
            ("London", 8, ["SW1A #@@", "EC1A #@@", "N1 #@@", "SE1 #@@", "W1T #@@", "E14 #@@",
                           "NW3 #@@"], [("207", 10, 2), ("203", 10, 2), ("208", 10, 2)]),
            ("Manchester", 2, ["M1 #@@", "M4 #@@", "M20 #@@"], [("1612", 10, 3)]),
            ("Birmingham", 2, ["B1 #@@", "B15 #@@"], [("1214", 10, 3)]),
            ("Leeds", 1, ["LS1 #@@", "LS6 #@@"], [("1132", 10, 3)]),
            ("Glasgow", 1, ["G1 #@@", "G12 #@@"], [("1412", 10, 3)]),
            ("Edinburgh", 1, ["EH1 #@@", "EH3 #@@"], [("1312", 10, 3)]),
            ("Bristol", 1, ["BS1 #@@", "BS8 #@@"], [("1179", 10, 3)]),
            ("Cambridge", 1, ["CB1 #@@", "CB2 #@@"], [("1223", 10, 4)]),
            ("Oxford", 1, ["OX1 #@@", "OX4 #@@"], [("1865", 10, 4)]),
            ("Cardiff", 1, ["CF10 #@@"], [("2920", 10, 2)]),
        ],
    },
    {
        "code": "DE", "weight": 0.12, "cc": "49", "trunk": "0", "culture": "DE", "tld": ".de",
        "labels": ["DE", "Germany", "Deutschland", "GER"],
        "providers": ["gmail.com", "web.de", "gmx.de", "t-online.de", "gmx.net", "outlook.de"],
        "mobile": [("151", 11, 3), ("152", 11, 3), ("160", 10, 3), ("170", 10, 3),
                   ("171", 10, 3), ("172", 10, 3), ("175", 10, 3), ("176", 11, 3),
                   ("177", 11, 3), ("178", 11, 3), ("179", 11, 3)],
        "cities": [
            ("Berlin", 5, ["10###", "12###", "13###"], [("30", 10, 2)]),
            ("Hamburg", 3, ["20###", "22###"], [("40", 10, 2)]),
            ("München", 3, ["80###", "81###"], [("89", 10, 2)]),
            ("Köln", 2, ["50###", "51###"], [("221", 10, 3)]),
            ("Frankfurt am Main", 2, ["60###"], [("69", 10, 2)]),
            ("Stuttgart", 1, ["70###"], [("711", 10, 3)]),
            ("Düsseldorf", 1, ["40###"], [("211", 10, 3)]),
            ("Leipzig", 1, ["04###"], [("341", 10, 3)]),
            ("Hannover", 1, ["30###"], [("511", 10, 3)]),
            ("Nürnberg", 1, ["90###"], [("911", 10, 3)]),
        ],
    },
    {
        "code": "FR", "weight": 0.09, "cc": "33", "trunk": "0", "culture": "FR", "tld": ".fr",
        "labels": ["FR", "France", "FRA"],
        "providers": ["gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr",
                      "sfr.fr", "wanadoo.fr"],
        "mobile": [(p, 9, 1) for p in ("61", "62", "65", "66", "67", "68", "75", "76", "77")],
        "cities": [
            ("Paris", 6, ["7500#", "7501#"], [("1", 9, 1)]),
            ("Lyon", 2, ["6900#"], [("4", 9, 1)]),
            ("Marseille", 2, ["1300#", "1301#"], [("4", 9, 1)]),
            ("Toulouse", 1, ["31#00"], [("5", 9, 1)]),
            ("Bordeaux", 1, ["33#00"], [("5", 9, 1)]),
            ("Lille", 1, ["59#00"], [("3", 9, 1)]),
            ("Nantes", 1, ["44#00"], [("2", 9, 1)]),
            ("Strasbourg", 1, ["67#00"], [("3", 9, 1)]),
            ("Nice", 1, ["06#00"], [("4", 9, 1)]),
            ("Rennes", 1, ["35#00"], [("2", 9, 1)]),
        ],
    },
    {
        "code": "ES", "weight": 0.07, "cc": "34", "trunk": "", "culture": "ES", "tld": ".es",
        "labels": ["ES", "Spain", "España", "ESP"],
        "providers": ["gmail.com", "hotmail.es", "yahoo.es", "telefonica.net", "outlook.es"],
        "mobile": [("6", 9, 3)],
        "cities": [
            ("Madrid", 5, ["280##"], [("91", 9, 3)]),
            ("Barcelona", 4, ["080##"], [("93", 9, 3)]),
            ("Valencia", 2, ["460##"], [("96", 9, 3)]),
            ("Sevilla", 2, ["410##"], [("95", 9, 3)]),
            ("Bilbao", 1, ["480##"], [("94", 9, 3)]),
            ("Málaga", 1, ["290##"], [("95", 9, 3)]),
            ("Zaragoza", 1, ["500##"], [("976", 9, 3)]),
        ],
    },
    {
        "code": "IT", "weight": 0.07, "cc": "39", "trunk": "", "culture": "IT", "tld": ".it",
        "labels": ["IT", "Italy", "Italia", "ITA"],
        "providers": ["gmail.com", "libero.it", "virgilio.it", "alice.it", "tiscali.it",
                      "hotmail.it"],
        "mobile": [(p, 10, 3) for p in ("32", "33", "34", "35", "36", "38", "39")],
        "cities": [
            ("Roma", 4, ["001##"], [("06", 10, 2)]),
            ("Milano", 4, ["201##"], [("02", 10, 2)]),
            ("Napoli", 2, ["801##"], [("081", 10, 3)]),
            ("Torino", 2, ["101##"], [("011", 10, 3)]),
            ("Firenze", 1, ["501##"], [("055", 10, 3)]),
            ("Bologna", 1, ["401##"], [("051", 10, 3)]),
            ("Venezia", 1, ["301##"], [("041", 10, 3)]),
        ],
    },
    {
        "code": "NL", "weight": 0.06, "cc": "31", "trunk": "0", "culture": "NL", "tld": ".nl",
        "labels": ["NL", "Netherlands", "The Netherlands", "Nederland", "Holland"],
        "providers": ["gmail.com", "ziggo.nl", "kpnmail.nl", "hotmail.nl", "xs4all.nl",
                      "outlook.com"],
        "mobile": [(p, 9, 1) for p in ("61", "62", "63", "64", "65")],
        "cities": [
            ("Amsterdam", 4, ["10## %%"], [("20", 9, 2)]),
            ("Rotterdam", 3, ["30## %%"], [("10", 9, 2)]),
            ("Den Haag", 2, ["25## %%"], [("70", 9, 2)]),
            ("Utrecht", 2, ["35## %%"], [("30", 9, 2)]),
            ("Eindhoven", 1, ["56## %%"], [("40", 9, 2)]),
            ("Groningen", 1, ["97## %%"], [("50", 9, 2)]),
        ],
    },
    {
        "code": "SE", "weight": 0.04, "cc": "46", "trunk": "0", "culture": "SE", "tld": ".se",
        "labels": ["SE", "Sweden", "Sverige", "SWE"],
        "providers": ["gmail.com", "telia.com", "hotmail.se", "bredband.net", "outlook.com"],
        "mobile": [(p, 9, 2) for p in ("70", "72", "73", "76")],
        "cities": [
            ("Stockholm", 4, ["11# ##"], [("8", 9, 1)]),
            ("Göteborg", 2, ["41# ##"], [("31", 9, 2)]),
            ("Malmö", 2, ["21# ##"], [("40", 9, 2)]),
            ("Uppsala", 1, ["75# ##"], [("18", 9, 2)]),
        ],
    },
    {
        "code": "AU", "weight": 0.06, "cc": "61", "trunk": "0", "culture": "EN", "tld": ".com.au",
        "labels": ["AU", "Australia", "AUS"],
        "providers": ["gmail.com", "bigpond.com", "optusnet.com.au", "outlook.com",
                      "hotmail.com"],
        "mobile": [(p, 9, 3) for p in ("40", "41", "42", "43")],
        "cities": [
            ("Sydney", 4, ["20##", "21##"], [("29", 9, 1), ("28", 9, 1)]),
            ("Melbourne", 4, ["30##", "31##"], [("39", 9, 1), ("38", 9, 1)]),
            ("Brisbane", 2, ["40##", "41##"], [("73", 9, 1)]),
            ("Perth", 2, ["60##", "61##"], [("89", 9, 1)]),
            ("Adelaide", 1, ["50##", "51##"], [("88", 9, 1)]),
            ("Canberra", 1, ["26##"], [("26", 9, 1)]),
        ],
    },
    {
        "code": "JP", "weight": 0.04, "cc": "81", "trunk": "0", "culture": "JP", "tld": ".co.jp",
        "labels": ["JP", "Japan", "JPN", "Nippon"],
        "providers": ["gmail.com", "yahoo.co.jp", "docomo.ne.jp", "ezweb.ne.jp", "nifty.com"],
        "mobile": [(p, 10, 2) for p in ("90", "80", "70")],
        "cities": [
            ("Tokyo", 6, ["1##-####"], [("3", 9, 1)]),
            ("Osaka", 3, ["53#-####"], [("6", 9, 1)]),
            ("Yokohama", 2, ["22#-####"], [("45", 9, 2)]),
            ("Nagoya", 2, ["45#-####"], [("52", 9, 2)]),
            ("Kyoto", 1, ["60#-####"], [("75", 9, 2)]),
            ("Sapporo", 1, ["06#-####"], [("112", 9, 2), ("113", 9, 2)]),
            ("Fukuoka", 1, ["81#-####"], [("92", 9, 2)]),
        ],
    },
]

COUNTRIES: tuple[str, ...] = tuple(c["code"] for c in _COUNTRY_TABLE)
"""ISO 3166-1 alpha-2 codes of the countries people are drawn from."""

# Flattened city table (global city index -> country index, name, postcode pool, landlines).
_CITY_COUNTRY: list[int] = []
_CITY_NAME: list[str] = []
_CITY_PATTERNS: list[list[str]] = []
_CITY_LANDLINES: list[list[Prefix]] = []
_CITIES_OF: list[np.ndarray] = []
_CITY_W: list[np.ndarray] = []
for _ci, _c in enumerate(_COUNTRY_TABLE):
    _ids = []
    _ws = []
    for _name, _w, _pats, _lines in _c["cities"]:
        _ids.append(len(_CITY_NAME))
        _ws.append(float(_w))
        _CITY_COUNTRY.append(_ci)
        _CITY_NAME.append(_name)
        _CITY_PATTERNS.append(_pats)
        _CITY_LANDLINES.append(_lines)
    _CITIES_OF.append(np.asarray(_ids, dtype=np.int64))
    _CITY_W.append(np.asarray(_ws) / sum(_ws))

# Flattened phone prefixes: global prefix index -> (prefix, NSN length, area length).
_PREFIXES: list[Prefix] = []
_MOBILE_IDS: list[np.ndarray] = []
_LANDLINE_IDS: list[np.ndarray] = []
for _c in _COUNTRY_TABLE:
    _MOBILE_IDS.append(np.arange(len(_PREFIXES), len(_PREFIXES) + len(_c["mobile"])))
    _PREFIXES.extend(_c["mobile"])
for _lines in _CITY_LANDLINES:
    _LANDLINE_IDS.append(np.arange(len(_PREFIXES), len(_PREFIXES) + len(_lines)))
    _PREFIXES.extend(_lines)
_PREFIX_TAIL = np.asarray([length - len(p) - 1 for p, length, _ in _PREFIXES], dtype=np.int64)

_COUNTRY_W = np.asarray([c["weight"] for c in _COUNTRY_TABLE])
_COUNTRY_W = _COUNTRY_W / _COUNTRY_W.sum()

_POSTCODES_PER_CITY = 40
_UK_INWARD = "ABDEFGHJLNPQRSTUWXYZ"
_NL_LETTERS = "ABCEGHJKLMNPRTVWXZ"

_COMPANY_STEMS = _words(
    """
    Acme Apex Atlas Aurora Beacon Blue_River Bright Cedar Summit Nordic Alpine Pioneer Vertex Harbor
    Evergreen Granite Horizon Ironwood Juniper Keystone Lakeside Meridian Northwind Oakridge
    Pinnacle Quantum Redwood Silverline Sterling Sunrise Trident Unity Vanguard Westfield Zenith
    Amber Arrow Bluebird Cobalt Crescent Crown Delta Eagle Echo Falcon Frontier Global Golden
    Highland Infinity Legacy Liberty Lighthouse Maple Matrix Nova Orion Pacific Phoenix Polar Prime
    Radiant Riverside Sapphire Sentinel Sierra Skyline Solstice Spectrum Starlight Stonebridge
    Sunbeam Titan Triton True_North Union Valley Vista Willow Windmill Coastal Copper Emerald
    Fairway Greenfield Hillcrest Ivory Jade Kestrel Landmark Lumen Magnolia Midland Monarch Nimbus
    Oasis Onyx Paragon Quartz Regal Saffron Seaside Silver_Oak Tandem Terra Vector Zephyr Nexus
    """
)
_COMPANY_WORDS = _words(
    """
    Systems Logistics Foods Analytics Consulting Solutions Labs Holdings Partners Energy Health
    Media Software Robotics Networks Dynamics Industries Capital Ventures Designs Manufacturing
    Technologies Trading Services Group Pharma Retail Motors Textiles Construction Engineering
    Insurance Security Telecom Digital Interactive Marine Aerospace Biotech Chemicals Outdoor
    Furniture Apparel Brewing Coffee Bakery Printing Freight Travel Realty Finance Data Cloud
    """
)

_TITLE_GROUPS: list[list[str]] = [
    ["Chief Executive Officer", "CEO", "Chief Executive"],
    ["Chief Financial Officer", "CFO", "Chief Finance Officer"],
    ["Chief Technology Officer", "CTO", "Chief Technical Officer"],
    ["Chief Operating Officer", "COO"],
    ["VP Sales", "Vice President, Sales", "VP of Sales", "Vice President of Sales"],
    ["VP Marketing", "Vice President, Marketing", "VP of Marketing"],
    ["Sales Manager", "Manager, Sales", "Sales Mgr"],
    ["Marketing Manager", "Mktg Manager", "Manager, Marketing"],
    ["Software Engineer", "Software Developer", "SW Engineer"],
    ["Senior Software Engineer", "Sr. Software Engineer", "Sr Software Engineer"],
    ["Head of Procurement", "Procurement Lead", "Head of Purchasing"],
    ["Account Executive", "Account Exec", "AE"],
    ["Office Manager", "Office Mgr"],
    ["Director of Operations", "Operations Director", "Dir. Operations"],
    ["HR Manager", "Human Resources Manager", "HR Mgr"],
    ["IT Director", "Director of IT", "Director, IT"],
    ["Product Manager", "Product Mgr", "PM"],
    ["Data Analyst", "Analyst, Data", "Data Analyst II"],
    ["Customer Success Manager", "CSM", "Customer Success Mgr"],
    ["Purchasing Agent", "Buyer", "Purchasing Officer"],
    ["Managing Director", "MD", "Managing Dir."],
    ["Owner", "Proprietor", "Business Owner"],
    ["Accountant", "Staff Accountant", "Accounts"],
    ["Consultant", "Senior Consultant", "Sr. Consultant"],
    ["Project Manager", "Project Mgr", "PMP"],
    ["Administrative Assistant", "Admin Assistant", "Admin. Asst."],
    ["Engineering Manager", "Eng. Manager", "Manager, Engineering"],
    ["Head of Marketing", "Marketing Lead", "Head, Marketing"],
]

_EMAIL_WORK_PATTERNS = ("{f}.{l}", "{fi}{l}", "{f}", "{f}{li}", "{f}_{l}", "{fi}.{l}")
_EMAIL_WORK_W = np.asarray([0.5, 0.2, 0.1, 0.06, 0.06, 0.08])
_EMAIL_PERSONAL_PATTERNS = (
    "{f}.{l}", "{f}{l}", "{f}.{l}{nn}", "{f}{l}{nn}", "{fi}{l}{nn}", "{l}.{f}", "{f}_{l}",
    "{f}{nn}",
)
_EMAIL_PERSONAL_W = np.asarray([0.2, 0.15, 0.15, 0.15, 0.1, 0.08, 0.07, 0.1])
_PLUS_TAGS = ("news", "crm", "work", "shop", "2019", "promo", "spam", "list")

_PHONE_STYLE_W = np.asarray([0.25, 0.12, 0.10, 0.10, 0.15, 0.12, 0.04, 0.04, 0.04, 0.04])
_OTHER_EXIT_CODES = frozenset({"US", "AU", "JP"})  # international prefix is not "00" there
_EXT_STYLES = (" ext. {e}", " x{e}", " ext {e}", " (ext. {e})", " Ext {e}", ";ext={e}")

_SOURCE_PREFIX = {"web_form": "WEB", "billing": "BIL", "support": "SUP", "import": "IMP",
                  "api": "API"}
_SOURCE_MISSING: dict[str, dict[str, float]] = {
    "web_form": {"street": 0.75, "postcode": 0.4, "title": 0.45, "company": 0.12, "phone": 0.35,
                 "city": 0.15},
    "billing": {"title": 0.65, "phone": 0.1, "email": 0.03},
    "support": {"street": 0.9, "postcode": 0.8, "city": 0.45, "title": 0.6, "company": 0.2,
                "phone": 0.2},
    "import": {"street": 0.5, "email": 0.08, "phone": 0.25, "title": 0.2, "postcode": 0.3},
    "api": {"title": 0.1, "street": 0.2},
}
_DEFAULT_MISSING = {"street": 0.3, "title": 0.3, "postcode": 0.2}

# Duplicate variation probabilities (each drawn independently per duplicate record).
_VARIANT_P: dict[str, float] = {
    "nickname": 0.3,
    "typo": 0.35,
    "missing_field": 0.35,
    "email_case": 0.12,
    "email_gmail_dots": 0.5,
    "email_plus_tag": 0.07,
    "email_other": 0.12,
    "phone_format": 0.5,
    "phone_ext": 0.15,
    "phone_other": 0.1,
    "company_legal_form": 0.4,
    "company_case": 0.06,
    "title_variant": 0.35,
    "swap_names": 0.04,
    "name_case": 0.06,
    "moved": 0.06,
    "address_format": 0.3,
    "country_format": 0.2,
}
_CLUSTER_SIZES = np.arange(2, 7)
_CLUSTER_P = np.asarray([0.58, 0.22, 0.11, 0.06, 0.03])
_MEAN_EXTRA = float(((_CLUSTER_SIZES - 1) * _CLUSTER_P).sum())
_MAX_DUP_RATE = 0.6

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_EPOCH = np.datetime64("2015-01-01T00:00:00", "s")

# ---------------------------------------------------------------------------------------------
# small string helpers


_SLUG_CACHE: dict[str, str] = {}


def _slug(text: str) -> str:
    """ASCII, lowercase, letters and digits only (for email local parts and domains)."""
    hit = _SLUG_CACHE.get(text)
    if hit is None:
        folded = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
        hit = "".join(ch for ch in folded.lower() if ch.isascii() and ch.isalnum())
        _SLUG_CACHE[text] = hit
    return hit


def _email_key(address: str) -> str:
    """The mailbox an address delivers to: lowercase, no +tag, Gmail dots ignored."""
    local, _, domain = address.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in {"gmail.com", "googlemail.com"}:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def _fill(pattern: str, r: random.Random) -> str:
    out = []
    for ch in pattern:
        if ch == "#":
            out.append(str(r.randrange(10)))
        elif ch == "@":
            out.append(r.choice(_UK_INWARD))
        elif ch == "%":
            out.append(r.choice(_NL_LETTERS))
        else:
            out.append(ch)
    return "".join(out)


def _typo(text: str, op: str, r: random.Random) -> str:
    """Apply one keyboard slip (insert, delete, transpose or substitute) away from position 0."""
    n = len(text)
    if n < 3:
        return text + r.choice(_LETTERS) if op == "insert" else text
    if op == "insert":
        i = r.randrange(1, n + 1)
        return text[:i] + r.choice(_LETTERS) + text[i:]
    if op == "delete":
        i = r.randrange(1, n)
        return text[:i] + text[i + 1 :]
    if op == "transpose":
        for _ in range(4):
            i = r.randrange(1, n - 1)
            if text[i] != text[i + 1]:
                return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        op = "substitute"  # no two different neighbours: a substitution is the next best slip
    i = r.randrange(1, n)
    c = r.choice(_LETTERS)
    while c == text[i].lower():
        c = r.choice(_LETTERS)
    if text[i].isupper():
        c = c.upper()
    return text[:i] + c + text[i + 1 :]


def _split_groups(rest: str) -> list[str]:
    n = len(rest)
    if n <= 4:
        return [rest]
    if n == 6:
        return [rest[:3], rest[3:]]
    if n == 7:
        return [rest[:3], rest[3:]]
    if n == 8:
        return [rest[:4], rest[4:]]
    if n == 9:
        return [rest[:3], rest[3:6], rest[6:]]
    return [rest[:4], rest[4:]]


def _groups(code: str, nsn: str, area_len: int) -> list[str]:
    if code == "FR":
        return [nsn[0], nsn[1:3], nsn[3:5], nsn[5:7], nsn[7:9]]
    if code == "ES":
        return [nsn[:3], nsn[3:6], nsn[6:]]
    if code == "US":
        return [nsn[:3], nsn[3:6], nsn[6:]]
    if code == "SE":
        rest = nsn[area_len:]
        return [nsn[:area_len], rest[:3], rest[3:5], rest[5:]]
    return [nsn[:area_len], *_split_groups(nsn[area_len:])]


def _render_phone(country: int, nsn: str, area_len: int, ext: str | None, style: int,
                  ext_style: int) -> str:
    spec = _COUNTRY_TABLE[country]
    code, cc, trunk = spec["code"], spec["cc"], spec["trunk"]
    g = _groups(code, nsn, area_len)
    head, rest = g[0], g[1:]
    if style == 0:
        text = f"{trunk}{head} " + " ".join(rest)
    elif style == 1:
        text = "-".join([trunk + head, *rest])
    elif style == 2:
        text = trunk + "".join(g)
    elif style == 3:
        sep = "-" if code == "US" else " "
        text = f"({trunk}{head}) " + sep.join(rest)
    elif style == 4:
        text = f"+{cc} " + " ".join(g)
    elif style == 5:
        text = f"+{cc}" + "".join(g)
    elif style == 6:
        text = f"+{cc}-" + "-".join(g)
    elif style == 7 and code not in _OTHER_EXIT_CODES:
        text = f"00{cc} " + " ".join(g)
    elif style == 7:
        text = f"+{cc} " + " ".join(g)
    elif style == 8 and trunk:
        text = f"+{cc} ({trunk}){head} " + " ".join(rest)
    elif style == 8:
        text = f"+{cc} " + " ".join(g)
    else:
        text = ".".join([trunk + head, *rest])
    if ext:
        text += _EXT_STYLES[ext_style].format(e=ext)
    return text


def _pick_prefixes(prefixes: list[Prefix], r: random.Random) -> Prefix:
    return prefixes[0] if len(prefixes) == 1 else r.choice(prefixes)


def _draw_nsn(prefix: Prefix, r: random.Random) -> str:
    p, length, _ = prefix
    tail = length - len(p) - 1
    digits = f"{r.getrandbits(40) % (10**tail):0{tail}d}" if tail > 0 else ""
    return p + str(r.randrange(2, 10)) + digits


def _render_street(country: int, name: str, suffix: int, number: int, short: bool) -> str:
    code = _COUNTRY_TABLE[country]["code"]
    style, _names, suffixes = _STREETS[code]
    full, abbrev = suffixes[suffix]
    sfx = abbrev if short else full
    if style == "num_first":
        return f"{number} {name} {sfx}"
    if style == "name_first_joined":
        return f"{name}{sfx} {number}"
    if style == "fr":
        return f"{number} {sfx} {name}" if not short else f"{number}, {sfx} {name}"
    if style == "type_first":
        sep = "" if sfx.endswith("/") else " "
        return f"{sfx}{sep}{name}, {number}" if short else f"{sfx} {name} {number}"
    # Japanese block addresses: chome-ban-go district
    a, b, c = number % 5 + 1, number % 23 + 1, number % 17 + 1
    return f"{a}-{b}-{c} {name}" if not short else f"{name} {a}-chome {b}-{c}"


# ---------------------------------------------------------------------------------------------
# generation


def _cluster_sizes(n: int, dup_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Entity cluster sizes summing to n: mostly 1, then pairs, some 3..6."""
    q = dup_rate / (_MEAN_EXTRA * (1.0 - dup_rate)) if dup_rate > 0 else 0.0
    chunks: list[np.ndarray] = []
    total = 0
    while total < n:
        m = max(16, int((n - total) / (1.0 + q * _MEAN_EXTRA) * 1.05) + 16)
        multi = rng.random(m) < q
        sz = np.where(multi, rng.choice(_CLUSTER_SIZES, size=m, p=_CLUSTER_P), 1)
        chunks.append(sz)
        total += int(sz.sum())
    sizes = np.concatenate(chunks)
    cs = np.cumsum(sizes)
    k = int(np.searchsorted(cs, n))
    sizes = sizes[: k + 1].copy()
    sizes[-1] -= int(cs[k] - n)
    return sizes


class _Companies:
    """Company pool: base name, country, legal form, domain, HQ city / street / main line."""

    def __init__(self, count: int, rng: np.random.Generator, r: random.Random) -> None:
        n_stems, n_words = len(_COMPANY_STEMS), len(_COMPANY_WORDS)
        combos = rng.choice(n_stems * (n_words + 1), size=min(count, n_stems * (n_words + 1)),
                            replace=False)
        self.base: list[str] = []
        self.domain: list[str] = []
        self.country = rng.choice(len(_COUNTRY_TABLE), size=len(combos), p=_COUNTRY_W)
        self.form: list[int] = []
        self.city = np.empty(len(combos), dtype=np.int64)
        self.street: list[tuple[int, int, int]] = []
        self.line: list[str] = []
        self.line_prefix: list[Prefix] = []
        for i, code in enumerate(combos.tolist()):
            stem = _COMPANY_STEMS[code // (n_words + 1)].replace("_", " ")
            w = code % (n_words + 1)
            base = stem if w == n_words else f"{stem} {_COMPANY_WORDS[w]}"
            country = int(self.country[i])
            spec = _COUNTRY_TABLE[country]
            self.base.append(base)
            tld = ".com" if r.random() < 0.35 else spec["tld"]
            self.domain.append(_slug(base) + tld)
            forms = _LEGAL_FORMS[spec["code"]]
            self.form.append(0 if len(forms) == 1 or r.random() < 0.7 else r.randrange(len(forms)))
            cities = _CITIES_OF[country]
            city = int(cities[rng.choice(len(cities), p=_CITY_W[country])])
            self.city[i] = city
            _style, names, suffixes = _STREETS[spec["code"]]
            self.street.append((r.randrange(len(names)), r.randrange(len(suffixes)),
                                r.randrange(1, 400)))
            prefix = _pick_prefixes(_CITY_LANDLINES[city], r)
            self.line_prefix.append(prefix)
            self.line.append(_draw_nsn(prefix, r))
        self.by_country = [np.flatnonzero(self.country == c) for c in range(len(_COUNTRY_TABLE))]

    def __len__(self) -> int:
        return len(self.base)

    def render(self, i: int, variant: int) -> str:
        """Company name with legal form rendering ``variant`` (0 canonical, -1 no legal form)."""
        forms = _LEGAL_FORMS[_COUNTRY_TABLE[int(self.country[i])]["code"]][self.form[i]]
        if variant < 0:
            return self.base[i]
        return self.base[i] + forms[variant % len(forms)]


def _validate(n: int, dup_rate: float, sources: Mapping[str, float]) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not 0.0 <= dup_rate <= _MAX_DUP_RATE:
        raise ValueError(f"dup_rate must be within [0, {_MAX_DUP_RATE}], got {dup_rate!r}")
    if not sources:
        raise ValueError("sources must name at least one source system")
    if any(w < 0 for w in sources.values()) or sum(sources.values()) <= 0:
        raise ValueError(f"source weights must be >= 0 and not all 0, got {dict(sources)!r}")


def generate_contacts(
    n: int,
    seed: int = 0,
    *,
    dup_rate: float = 0.3,
    sources: Sequence[str] | Mapping[str, float] = SOURCES,
    namesake_rate: float = 0.02,
    household_rate: float = 0.03,
    annotate: bool = False,
) -> Table:
    """Generate ``n`` synthetic CRM contact records with a truth column.

    The same ``n``, ``seed`` and options always give the same table.

    Args:
        n: Number of records (rows).
        seed: Seed of the random generator.
        dup_rate: Share of records that are extra copies of an entity already in the table
            (``(rows - entities) / rows``), within [0, 0.6].
        sources: Source system names (drawn uniformly), or a mapping name -> weight. Known names
            (``web_form``, ``billing``, ``support``, ``import``, ``api``) have their own habits
            of leaving fields blank.
        namesake_rate: Share of entities that are namesakes of another entity at the same
            company (a different person).
        household_rate: Share of entities that live with another entity (same address and
            landline, a different person).
        annotate: Add a column ``variants``: for duplicates the kinds of variation applied
            (``;``-separated, from :data:`VARIANT_KINDS`), plus ``namesake`` / ``household``
            for the records of hard-negative entities.

    Returns:
        A table with :data:`COLUMNS` then ``entity_id`` (and ``variants`` when annotated); rows
        are shuffled, ``record_id`` is unique.

    Raises:
        ValueError: For a negative ``n``, a ``dup_rate`` out of range or no sources.
    """
    weights = dict(sources) if isinstance(sources, Mapping) else dict.fromkeys(sources, 1.0)
    _validate(n, dup_rate, weights)
    n = int(n)
    rng = np.random.default_rng(seed)
    r = random.Random(int(rng.integers(0, 2**62)))
    if n == 0:
        empty: dict[str, list[str | None]] = {c: [] for c in (*COLUMNS, TRUTH_COLUMN)}
        if annotate:
            empty["variants"] = []
        return Table(empty)

    sizes = _cluster_sizes(n, dup_rate, rng)
    n_ent = len(sizes)
    ent = _entities(n_ent, rng, r, namesake_rate, household_rate)
    return _rows(n, sizes, ent, weights, rng, r, annotate)


def _entities(
    n_ent: int,
    rng: np.random.Generator,
    r: random.Random,
    namesake_rate: float,
    household_rate: float,
) -> dict[str, Any]:
    n_cult = len(_CULTURES)
    country = rng.choice(len(_COUNTRY_TABLE), size=n_ent, p=_COUNTRY_W)
    primary = np.asarray([_CULTURES.index(c["culture"]) for c in _COUNTRY_TABLE])[country]
    mixed = rng.random(n_ent) < 0.12
    culture = np.where(mixed, rng.integers(0, n_cult, size=n_ent), primary)
    first = np.empty(n_ent, dtype=np.int64)
    last = np.empty(n_ent, dtype=np.int64)
    for ci, cname in enumerate(_CULTURES):
        m = np.flatnonzero(culture == ci)
        pool_f, pool_l = _FIRST_BY_CULTURE[cname], _LAST_BY_CULTURE[cname]
        first[m] = pool_f[rng.choice(len(pool_f), size=len(m), p=_zipf(len(pool_f), 0.5))]
        last[m] = pool_l[rng.choice(len(pool_l), size=len(m), p=_zipf(len(pool_l), 0.7))]

    companies = _Companies(max(20, min(6000, n_ent // 5)), rng, r)
    has_company = rng.random(n_ent) < 0.82
    company = np.full(n_ent, -1, dtype=np.int64)
    city = np.empty(n_ent, dtype=np.int64)
    for ci in range(len(_COUNTRY_TABLE)):
        m = np.flatnonzero(country == ci)
        pool = companies.by_country[ci]
        if len(pool) == 0:
            pool = np.arange(len(companies))
        zw = _zipf(len(pool), 1.0)
        company[m] = pool[rng.choice(len(pool), size=len(m), p=zw)]
        cities = _CITIES_OF[ci]
        city[m] = cities[rng.choice(len(cities), size=len(m), p=_CITY_W[ci])]
    foreign = rng.random(n_ent) < 0.08
    company[foreign] = rng.integers(0, len(companies), size=int(foreign.sum()))
    company[~has_company] = -1
    # Many business contacts are filed at their company's address.
    at_office = (company >= 0) & (rng.random(n_ent) < 0.45)
    at_office &= companies.country[np.maximum(company, 0)] == country
    city[at_office] = companies.city[company[at_office]]

    title = rng.choice(len(_TITLE_GROUPS), size=n_ent, p=_zipf(len(_TITLE_GROUPS), 0.6))
    email_work = (company >= 0) & (rng.random(n_ent) < 0.7)
    email_pat = np.where(
        email_work,
        rng.choice(len(_EMAIL_WORK_PATTERNS), size=n_ent, p=_EMAIL_WORK_W / _EMAIL_WORK_W.sum()),
        rng.choice(len(_EMAIL_PERSONAL_PATTERNS), size=n_ent,
                   p=_EMAIL_PERSONAL_W / _EMAIL_PERSONAL_W.sum()),
    )
    mobile = rng.random(n_ent) < 0.55
    # People without a mobile in their country plan (US) get a second landline style number.
    switchboard = (~mobile) & (company >= 0) & at_office & (rng.random(n_ent) < 0.35)
    created = rng.integers(0, 3000 * 86400, size=n_ent)

    # Hard negatives: namesakes at one company, households at one address.
    is_ns = np.zeros(n_ent, dtype=bool)
    is_hh = np.zeros(n_ent, dtype=bool)
    anchor = np.full(n_ent, -1, dtype=np.int64)
    order = rng.permutation(n_ent)
    k_ns = round(namesake_rate * n_ent)
    k_hh = round(household_rate * n_ent)
    if n_ent >= 4 and k_ns + k_hh > 0:
        k_ns = min(k_ns, n_ent // 4)
        k_hh = min(k_hh, n_ent // 4)
        ns, hh = order[:k_ns], order[k_ns : k_ns + k_hh]
        rest = order[k_ns + k_hh :]
        with_company = rest[company[rest] >= 0]
        if len(ns) and len(with_company):
            a = with_company[rng.integers(0, len(with_company), size=len(ns))]
            is_ns[ns] = True
            anchor[ns] = a
            for arr in (first, last, culture, country, company):
                arr[ns] = arr[a]
            # 60 % in the anchor's city, the rest elsewhere in the anchor's country.
            same_city = rng.random(len(ns)) < 0.6
            for j, (who, an) in enumerate(zip(ns.tolist(), a.tolist(), strict=True)):
                cities = _CITIES_OF[int(country[an])]
                city[who] = city[an] if same_city[j] else cities[r.randrange(len(cities))]
            email_work[ns] = email_work[a]
            email_pat[ns] = email_pat[a]
            at_office[ns] = False
            switchboard[ns] = False
        if len(hh):
            a = rest[rng.integers(0, len(rest), size=len(hh))]
            is_hh[hh] = True
            anchor[hh] = a
            country[hh] = country[a]
            city[hh] = city[a]
            same_name = rng.random(len(hh)) < 0.85
            last[hh[same_name]] = last[a[same_name]]
            culture[hh] = culture[a]
            at_office[hh] = False
            at_office[a] = False
            mobile[hh] = False
            mobile[a] = False
            switchboard[hh] = False
            switchboard[a] = False
            email_work[hh] = False
            email_pat[hh] = rng.integers(0, len(_EMAIL_PERSONAL_PATTERNS), size=len(hh))
            for h, an in zip(hh.tolist(), a.tolist(), strict=True):
                pool = _FIRST_BY_CULTURE[_CULTURES[int(culture[h])]]
                while first[h] == first[an]:
                    first[h] = pool[r.randrange(len(pool))]

    # Per-entity strings: postcode, street, phone, email.
    postcode_pool = [
        [_fill(p, r) for p in r.choices(_CITY_PATTERNS[c], k=_POSTCODES_PER_CITY)]
        for c in range(len(_CITY_NAME))
    ]
    pc_pick = rng.integers(0, _POSTCODES_PER_CITY, size=n_ent)
    postcode: list[str] = [postcode_pool[c][k] for c, k in zip(city.tolist(), pc_pick.tolist(),
                                                                 strict=True)]
    # Streets: (name index, suffix index, house number), drawn per country.
    n_names = np.asarray([len(_STREETS[c["code"]][1]) for c in _COUNTRY_TABLE])[country]
    n_suffixes = np.asarray([len(_STREETS[c["code"]][2]) for c in _COUNTRY_TABLE])[country]
    s_name = (rng.random(n_ent) * n_names).astype(np.int64)
    s_suffix = (rng.random(n_ent) * n_suffixes).astype(np.int64)
    s_number = rng.integers(1, 250, size=n_ent)
    street: list[tuple[int, int, int]] = list(
        zip(s_name.tolist(), s_suffix.tolist(), s_number.tolist(), strict=True)
    )
    # Phones: pick a prefix per entity (mobile plan of the country or landline of the city).
    pre_idx = np.empty(n_ent, dtype=np.int64)
    use_mobile = mobile & np.asarray([bool(c["mobile"]) for c in _COUNTRY_TABLE])[country]
    u = rng.random(n_ent)
    for ci in range(len(_COUNTRY_TABLE)):
        m = np.flatnonzero((country == ci) & use_mobile)
        pool = _MOBILE_IDS[ci]
        pre_idx[m] = pool[(u[m] * len(pool)).astype(np.int64)]
    for cy in range(len(_CITY_NAME)):
        m = np.flatnonzero((city == cy) & ~use_mobile)
        pool = _LANDLINE_IDS[cy]
        pre_idx[m] = pool[(u[m] * len(pool)).astype(np.int64)]
    lead = rng.integers(2, 10, size=n_ent).tolist()
    tail_len = _PREFIX_TAIL[pre_idx]
    tail = (rng.integers(0, 10**8, size=n_ent) % (10**tail_len)).tolist()
    ext_no = rng.integers(100, 1000, size=n_ent).tolist()
    nn = rng.integers(1, 100, size=n_ent).tolist()
    use_gmail = (rng.random(n_ent) < 0.4).tolist()
    prov_u = rng.random(n_ent).tolist()
    phone: list[tuple[str, int, str | None]] = []
    email: list[str] = []
    taken: dict[str, int] = {}
    country_l, city_l, company_l = country.tolist(), city.tolist(), company.tolist()
    first_l, last_l = first.tolist(), last.tolist()
    pre_l, tail_len_l = pre_idx.tolist(), tail_len.tolist()
    office_l, switch_l = at_office.tolist(), switchboard.tolist()
    work_l, pat_l = email_work.tolist(), email_pat.tolist()
    for e in range(n_ent):
        comp = company_l[e]
        if office_l[e]:
            street[e] = companies.street[comp]
            postcode[e] = postcode_pool[city_l[e]][comp % _POSTCODES_PER_CITY]
        if switch_l[e]:
            phone.append((companies.line[comp], companies.line_prefix[comp][2], str(ext_no[e])))
        else:
            p, _length, area_len = _PREFIXES[pre_l[e]]
            t = tail_len_l[e]
            phone.append((f"{p}{lead[e]}{tail[e]:0{t}d}" if t else f"{p}{lead[e]}", area_len,
                          None))
        f, l_ = _slug(_FIRST[first_l[e]]), _slug(_LAST[last_l[e]])
        if work_l[e]:
            local = _EMAIL_WORK_PATTERNS[pat_l[e]].format(
                f=f, l=l_, fi=f[:1], li=l_[:1], nn=nn[e]
            )
            domain = companies.domain[comp]
        else:
            local = _EMAIL_PERSONAL_PATTERNS[pat_l[e]].format(
                f=f, l=l_, fi=f[:1], li=l_[:1], nn=nn[e]
            )
            if use_gmail[e]:
                domain = "gmail.com"
            else:
                providers = _COUNTRY_TABLE[country_l[e]]["providers"]
                domain = providers[int(prov_u[e] * len(providers))]
        address, k = f"{local}@{domain}", 2
        while _email_key(address) in taken:
            address = f"{local}{k}@{domain}"
            k += 1
        taken[_email_key(address)] = e
        email.append(address)
    # Households share the anchor's landline and address.
    for h in np.flatnonzero(is_hh).tolist():
        a = int(anchor[h])
        phone[h] = phone[a]
        street[h] = street[a]
        postcode[h] = postcode[a]
    return {
        "n": n_ent, "country": country, "culture": culture, "first": first, "last": last,
        "company": company, "companies": companies, "city": city, "postcode": postcode,
        "street": street, "title": title, "phone": phone, "email": email, "taken": taken,
        "created": created, "is_ns": is_ns, "is_hh": is_hh, "mobile": mobile,
    }


def _rows(
    n: int,
    sizes: np.ndarray,
    ent: dict[str, Any],
    weights: Mapping[str, float],
    rng: np.random.Generator,
    r: random.Random,
    annotate: bool,
) -> Table:
    n_ent = int(ent["n"])
    companies: _Companies = ent["companies"]
    e_of = np.repeat(np.arange(n_ent), sizes)
    starts = np.cumsum(sizes) - sizes
    is_dup = np.arange(n) - np.repeat(starts, sizes) > 0
    names = list(weights)
    p = np.asarray([weights[s] for s in names], dtype=np.float64)
    src = rng.choice(len(names), size=n, p=p / p.sum())

    e_list = e_of.tolist()
    country = ent["country"]
    first_obj = np.asarray(_FIRST, dtype=object)
    last_obj = np.asarray(_LAST, dtype=object)
    col_first = first_obj[ent["first"][e_of]]
    col_last = last_obj[ent["last"][e_of]]
    col_email = np.asarray(ent["email"], dtype=object)[e_of]
    # Company, title, phone and street are rendered once per entity (in the style of its first
    # record); duplicates copy them unless varied below.
    ent_country = country.tolist()
    form_pick = np.where(rng.random(n_ent) < 0.8, 0, rng.integers(0, 5, size=n_ent)).tolist()
    ent_company = np.asarray(
        [companies.render(c, v) if c >= 0 else None
         for c, v in zip(ent["company"].tolist(), form_pick, strict=True)],
        dtype=object,
    )
    title_pick = np.where(rng.random(n_ent) < 0.75, 0, rng.integers(0, 3, size=n_ent)).tolist()
    ent_title = np.asarray(
        [_TITLE_GROUPS[t][v % len(_TITLE_GROUPS[t])]
         for t, v in zip(ent["title"].tolist(), title_pick, strict=True)],
        dtype=object,
    )
    phone_style = rng.choice(
        len(_PHONE_STYLE_W), size=n_ent, p=_PHONE_STYLE_W / _PHONE_STYLE_W.sum()
    ).tolist()
    ext_style = rng.integers(0, len(_EXT_STYLES), size=n_ent).tolist()
    ent_phone = np.asarray(
        [_render_phone(c, nsn, area, ext, s, x)
         for c, (nsn, area, ext), s, x in zip(ent_country, ent["phone"], phone_style, ext_style,
                                               strict=True)],
        dtype=object,
    )
    street_short = (rng.random(n_ent) < 0.25).tolist()
    street_names = [_STREETS[c["code"]][1] for c in _COUNTRY_TABLE]
    ent_street = np.asarray(
        [_render_street(c, street_names[c][name], suffix, number, short)
         for c, (name, suffix, number), short in zip(ent_country, ent["street"], street_short,
                                                     strict=True)],
        dtype=object,
    )
    col_company = ent_company[e_of]
    col_title = ent_title[e_of]
    col_phone = ent_phone[e_of]
    col_street = ent_street[e_of]
    country_rows = country[e_of]
    city_obj = np.asarray(_CITY_NAME, dtype=object)
    col_city = city_obj[ent["city"][e_of]]
    col_postcode = np.asarray(ent["postcode"], dtype=object)[e_of]
    code_obj = np.asarray(COUNTRIES, dtype=object)
    col_country = code_obj[country_rows]
    offsets = np.where(is_dup, rng.integers(0, 1000 * 86400, size=n), rng.integers(0, 86400, n))
    stamps = _EPOCH + (ent["created"][e_of] + offsets).astype("timedelta64[s]")
    col_created = np.asarray([s + "Z" for s in np.datetime_as_string(stamps, unit="s").tolist()],
                             dtype=object)

    cols: dict[str, np.ndarray] = {
        "first_name": col_first, "last_name": col_last, "email": col_email, "phone": col_phone,
        "company": col_company, "title": col_title, "street": col_street, "city": col_city,
        "postcode": col_postcode, "country": col_country,
    }
    variants: list[list[str]] = [[] for _ in range(n)] if annotate else []
    _vary_duplicates(np.flatnonzero(is_dup), e_list, cols, ent, rng, r, variants)

    # Source habits: blank fields each source tends not to capture.
    src_names = np.asarray(names, dtype=object)[src]
    for si, sname in enumerate(names):
        rows = np.flatnonzero(src == si)
        if not len(rows):
            continue
        for field, prob in _SOURCE_MISSING.get(sname, _DEFAULT_MISSING).items():
            blank = rows[rng.random(len(rows)) < prob]
            cols[field][blank] = None
    cols["country"][rng.random(n) < 0.04] = None

    perm = rng.permutation(n)
    width = max(6, len(str(n)))
    prefixes = [_SOURCE_PREFIX.get(s, _slug(s)[:3].upper() or "SRC") for s in names]
    src_perm = src[perm].tolist()
    record_id = [f"{prefixes[s]}-{i + 1:0{width}d}" for i, s in enumerate(src_perm)]
    ewidth = max(6, len(str(n_ent)))
    entity_id = [f"E{e:0{ewidth}d}" for e in e_of[perm].tolist()]
    out: dict[str, list[str | None]] = {
        "record_id": list(record_id),
        "source_system": src_names[perm].tolist(),
    }
    for name in COLUMNS[2:-1]:
        out[name] = cols[name][perm].tolist()
    out["created_at"] = col_created[perm].tolist()
    out[TRUTH_COLUMN] = list(entity_id)
    if annotate:
        hard = np.where(ent["is_ns"], "namesake", np.where(ent["is_hh"], "household", ""))[e_of]
        ann: list[str | None] = []
        for i in perm.tolist():
            kinds = variants[i] + ([str(hard[i])] if hard[i] else [])
            ann.append(";".join(kinds) or None)
        out["variants"] = ann
    return Table(out)


def _vary_duplicates(
    dup_rows: np.ndarray,
    e_list: list[int],
    cols: dict[str, np.ndarray],
    ent: dict[str, Any],
    rng: np.random.Generator,
    r: random.Random,
    variants: list[list[str]],
) -> None:
    """Apply the duplicate variations in place (Python per duplicate row, nothing per pair)."""
    probs = np.asarray(list(_VARIANT_P.values()))
    draws = (rng.random((len(dup_rows), len(probs))) < probs).tolist()
    companies: _Companies = ent["companies"]
    country_l, city_l = ent["country"].tolist(), ent["city"].tolist()
    first_l, company_l, title_l = ent["first"].tolist(), ent["company"].tolist(), ent["title"]
    mobile_l = ent["mobile"].tolist()
    phones, taken = ent["phone"], ent["taken"]
    jp = COUNTRIES.index("JP")
    lists = {k: v.tolist() for k, v in cols.items()}
    first_c, last_c, email_c = lists["first_name"], lists["last_name"], lists["email"]
    phone_c, company_c, title_c = lists["phone"], lists["company"], lists["title"]
    street_c, city_c, postcode_c = lists["street"], lists["city"], lists["postcode"]
    country_c = lists["country"]
    annotate = bool(variants)
    rand = r.random
    typo_fields = ("first_name", "last_name", "company", "street", "city", "email")
    typo_cw = tuple(np.cumsum((0.3, 0.35, 0.1, 0.1, 0.1, 0.05)).tolist())
    typo_ops = ("insert", "delete", "transpose", "substitute")
    miss_fields = ("email", "phone", "company", "title", "street", "city", "postcode", "country")
    miss_cw = tuple(np.cumsum((0.2, 0.25, 0.12, 0.15, 0.1, 0.06, 0.07, 0.05)).tolist())
    n_styles, n_ext = len(_PHONE_STYLE_W), len(_EXT_STYLES)
    for row_pos, i in enumerate(dup_rows.tolist()):
        (nickname, typo, missing, e_case, e_dots, e_plus, e_other, p_format, p_ext, p_other,
         c_form, c_case, t_variant, swap, n_case, moved, a_format, c_format) = draws[row_pos]
        e = e_list[i]
        c = country_l[e]
        applied: list[str] = []
        if nickname:
            nicks = NICKNAMES.get(_FIRST[first_l[e]])
            if nicks:
                first_c[i] = nicks[int(rand() * len(nicks))]
                applied.append("nickname")
        if swap or (c == jp and rand() < 0.2):
            first_c[i], last_c[i] = last_c[i], first_c[i]
            applied.append("swap_names")
        if n_case:
            up = rand() < 0.6
            first_c[i] = first_c[i].upper() if up else first_c[i].lower()
            last_c[i] = last_c[i].upper() if up else last_c[i].lower()
            applied.append("name_case")
        if e_other or e_dots or e_plus or e_case:
            local, _, domain = email_c[i].partition("@")
            if e_other:
                f, l_ = _slug(first_c[i]), _slug(last_c[i])
                pat = _EMAIL_PERSONAL_PATTERNS[int(rand() * len(_EMAIL_PERSONAL_PATTERNS))]
                new_local = pat.format(f=f, l=l_, fi=f[:1], li=l_[:1], nn=int(rand() * 99) + 1)
                providers = _COUNTRY_TABLE[c]["providers"]
                new_domain = providers[int(rand() * len(providers))]
                candidate, k = f"{new_local}@{new_domain}", 2
                while taken.get(_email_key(candidate), e) != e:
                    candidate = f"{new_local}{k}@{new_domain}"
                    k += 1
                taken[_email_key(candidate)] = e
                local, _, domain = candidate.partition("@")
                applied.append("email_other")
            elif e_dots and domain == "gmail.com" and len(local) > 3:
                if "." in local:
                    local = local.replace(".", "")
                else:
                    j = 1 + int(rand() * (len(local) - 1))
                    local = local[:j] + "." + local[j:]
                applied.append("email_gmail_dots")
            if e_plus:
                local = f"{local}+{_PLUS_TAGS[int(rand() * len(_PLUS_TAGS))]}"
                applied.append("email_plus_tag")
            em = f"{local}@{domain}"
            if e_case:
                em = em.upper() if rand() < 0.3 else local.capitalize() + "@" + domain.capitalize()
                applied.append("email_case")
            if taken.setdefault(_email_key(em), e) == e:
                email_c[i] = em
            else:  # the variant is someone else's mailbox: keep the entity's own address
                applied = [k for k in applied if not k.startswith("email_")]
        if p_other or p_ext or p_format:
            nsn, area_len, ext = phones[e]
            if p_other:
                spec = _COUNTRY_TABLE[c]
                pre = _pick_prefixes(spec["mobile"] or _CITY_LANDLINES[city_l[e]], r)
                nsn, area_len, ext = _draw_nsn(pre, r), pre[2], None
                applied.append("phone_other")
            if p_ext:
                if ext:
                    ext = None
                    applied.append("phone_ext")
                elif not mobile_l[e]:
                    ext = str(10 + int(rand() * 990))
                    applied.append("phone_ext")
            if p_format:
                applied.append("phone_format")
            phone_c[i] = _render_phone(c, nsn, area_len, ext, int(rand() * n_styles),
                                       int(rand() * n_ext))
        comp = company_l[e]
        if comp >= 0:
            if c_form:
                company_c[i] = companies.render(comp, int(rand() * 6) - 1)
                applied.append("company_legal_form")
            if c_case:
                company_c[i] = company_c[i].upper()
                applied.append("company_case")
        if t_variant:
            group = _TITLE_GROUPS[int(title_l[e])]
            title_c[i] = group[int(rand() * len(group))]
            applied.append("title_variant")
        if moved:
            cities = _CITIES_OF[c]
            new_city = int(cities[int(rand() * len(cities))])
            _style, names, suffixes = _STREETS[COUNTRIES[c]]
            street_c[i] = _render_street(c, names[int(rand() * len(names))],
                                         int(rand() * len(suffixes)), 1 + int(rand() * 249), False)
            city_c[i] = _CITY_NAME[new_city]
            postcode_c[i] = _fill(r.choice(_CITY_PATTERNS[new_city]), r)
            applied.append("moved")
        elif a_format:
            text = street_c[i]
            for full, short in _STREETS[COUNTRIES[c]][2]:
                if full and full != short and (full in text or short in text):
                    old, new = (full, short) if full in text else (short, full)
                    street_c[i] = text.replace(old, new)
                    applied.append("address_format")
                    break
        if c_format:
            labels = _COUNTRY_TABLE[c]["labels"]
            country_c[i] = labels[1 + int(rand() * (len(labels) - 1))]
            applied.append("country_format")
        if typo:
            field = r.choices(typo_fields, cum_weights=typo_cw)[0]
            col = lists[field]
            value = col[i]
            if value:
                op = typo_ops[int(rand() * 4)]
                if field == "email":
                    lp, _, dom = value.partition("@")
                    slip = _typo(lp, op, r) + "@" + dom
                    if taken.setdefault(_email_key(slip), e) == e:
                        col[i] = slip
                        applied.append("typo_" + op)
                else:
                    col[i] = _typo(value, op, r)
                    applied.append("typo_" + op)
        if missing:
            for field in set(r.choices(miss_fields, cum_weights=miss_cw, k=1 + (rand() < 0.3))):
                lists[field][i] = None
            applied.append("missing_field")
        if annotate:
            variants[i] = applied
    for key, values in lists.items():
        cols[key] = np.asarray(values, dtype=object)


# ---------------------------------------------------------------------------------------------
# command line



# -- person registers with exactly one error per duplicate --------------------------------------

REGISTER_COLUMNS = ("record_id", "first_name", "last_name", "dob", "postcode", "city")


def _one_typo(text: str, r: random.Random) -> str:
    """One edit (substitution, deletion, insertion or transposition) somewhere in ``text``."""
    if len(text) < 2:
        return text + r.choice("aeiou")
    return _typo(text, r.choice(("sub", "del", "ins", "swap")), r)


def generate_register(n_entities: int, seed: int = 0, *, dup_rate: float = 0.5) -> Table:
    """A person register where every duplicate differs from its original by EXACTLY one error in
    one field (a typo in a name, the city or the postcode, or one digit of the date of birth).

    Args:
        n_entities: People.
        seed: Random seed.
        dup_rate: Chance that a person has 1 to 3 duplicates.

    Returns:
        Columns :data:`REGISTER_COLUMNS` then ``entity_id``; rows shuffled.
    """
    rng = np.random.default_rng(seed)
    r = random.Random(seed)
    rows: list[dict[str, str]] = []
    for e in range(n_entities):
        culture = _CULTURES[int(rng.integers(len(_CULTURES)))]
        first = _FIRST[int(r.choice(_FIRST_BY_CULTURE[culture].tolist()))]
        last = _LAST[int(r.choice(_LAST_BY_CULTURE[culture].tolist()))]
        dob = f"{r.randrange(1930, 2005)}-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}"
        postcode = f"{r.randrange(10000, 99999)}"
        city = r.choice(_REGISTER_CITIES)
        base = {"first_name": first, "last_name": last, "dob": dob, "postcode": postcode,
                "city": city, "entity_id": f"P{e:07d}"}
        rows.append(dict(base))
        if r.random() < dup_rate:
            for _ in range(r.randint(1, 3)):
                dup = dict(base)
                field = r.choice(("first_name", "last_name", "dob", "postcode", "city"))
                if field == "dob":
                    y, m, d = dob.split("-")
                    k = r.choice((0, 1, 2))
                    parts = [y, m, d]
                    digits = list(parts[k])
                    pos = r.randrange(len(digits))
                    digits[pos] = str((int(digits[pos]) + r.randint(1, 9)) % 10)
                    parts[k] = "".join(digits)
                    dup["dob"] = "-".join(parts)
                else:
                    dup[field] = _one_typo(dup[field], r)
                rows.append(dup)
    r.shuffle(rows)
    cols: dict[str, list[str | None]] = {c: [] for c in (*REGISTER_COLUMNS, TRUTH_COLUMN)}
    for k, row in enumerate(rows):
        cols["record_id"].append(f"R{k:07d}")
        for c in REGISTER_COLUMNS[1:]:
            cols[c].append(row[c])
        cols[TRUTH_COLUMN].append(row["entity_id"])
    return Table(cols)


_REGISTER_CITIES = [
    "Springfield", "Riverton", "Lakewood", "Fairview", "Greenville", "Madison", "Georgetown",
    "Franklin", "Clinton", "Salem", "Bristol", "Dover", "Oxford", "Ashland", "Burlington",
    "Manchester", "Milton", "Newport", "Kingston", "Auburn", "Dayton", "Lexington", "Hudson",
    "Jackson", "Marion", "Chester", "Arlington", "Windsor", "Hamilton", "Lancaster",
]


# -- organisation name lists -------------------------------------------------------------------

#: Word -> the short forms a CRM user types for it (duplicates may use one).
_SHORT_FORMS = {
    "Technologies": ("Tech", "Technology", "Techs"), "International": ("Intl", "Int'l"),
    "Company": ("Co",), "Corporation": ("Corp",), "Manufacturing": ("Mfg",),
    "Services": ("Svcs", "Service"), "Systems": ("Sys", "System"), "Laboratories": ("Labs",),
    "Associates": ("Assoc",), "Brothers": ("Bros",), "National": ("Natl",),
    "Industries": ("Ind", "Industry"), "Holdings": ("Hldgs", "Holding"), "Group": ("Grp",),
    "Communications": ("Comms",), "Pharmaceuticals": ("Pharma",), "Engineering": ("Eng",),
    "Management": ("Mgmt",), "Development": ("Dev",), "Center": ("Ctr", "Centre"),
}
_ORG_WORDS = [
    "Technologies", "International", "Systems", "Services", "Solutions", "Holdings", "Group",
    "Industries", "Partners", "Laboratories", "Associates", "Consulting", "Engineering",
    "Communications", "Pharmaceuticals", "Logistics", "Foods", "Energy", "Capital", "Media",
    "Networks", "Manufacturing", "Management", "Development", "Brothers", "National", "Analytics",
    "Software", "Robotics", "Dynamics", "Ventures", "Designs", "Trading", "Retail", "Motors",
    "Insurance", "Center",
]
_SYLLABLES = [
    "ka", "ro", "mi", "ten", "vo", "lu", "sa", "ber", "gen", "tal", "dor", "vin", "qua", "zen",
    "lex", "mar", "tor", "ne", "fi", "ral", "co", "sol", "tri", "pan", "del", "ox", "ar", "is",
    "um", "ia", "on", "ex", "vel", "tas", "ri", "bo",
]
_ORG_FORMS = (
    (" Inc", " Inc.", ", Inc.", " Incorporated", ""), (" LLC", " L.L.C.", ", LLC", ""),
    (" Ltd", " Ltd.", " Limited", ""), (" GmbH", " G.m.b.H.", ""), (" SA", " S.A.", ""),
    (" AG", ""), (" BV", " B.V.", ""), (" Corp", " Corp.", " Corporation", ""),
    (" plc", " PLC", ""), (" S.r.l.", " SRL", ""),
)


def _coined(r: random.Random) -> str:
    return "".join(r.choice(_SYLLABLES) for _ in range(r.randint(2, 3))).capitalize()


def _render_org(stem: str, words: list[str], form: int, r: random.Random, dup: bool) -> str:
    forms = _ORG_FORMS[form]
    if not dup:
        return f"{stem} {' '.join(words)}".strip() + forms[0]
    out_words = []
    for w in words:
        short = _SHORT_FORMS.get(w)
        if short and r.random() < 0.5:
            w = r.choice(short) + ("." if r.random() < 0.3 else "")
        out_words.append(w)
    if len(out_words) > 1 and r.random() < 0.2:
        out_words.pop(r.randrange(1, len(out_words)))
    stem_out = stem
    if r.random() < 0.2:
        stem_out = _one_typo(stem, r)
    name = f"{stem_out} {' '.join(out_words)}".strip()
    if r.random() < 0.15:
        name = "The " + name
    name = name.replace(" and ", " & ") if r.random() < 0.5 else name
    name += r.choice(forms)
    case = r.random()
    if case < 0.25:
        name = name.upper()
    elif case < 0.35:
        name = name.lower()
    if r.random() < 0.15:
        name = r.choice(("* ", "\"", "- ", "(")) + name + r.choice(("", ".", ",", "\"", ")"))
    if r.random() < 0.1:
        name = "  " + name.replace(" ", "  ", 1)
    return name


def generate_companies(
    n_orgs: int, seed: int = 0, *, dup_rate: float = 0.5, with_fields: bool = False
) -> Table:
    """A list of organisation names (the account-dedupe job): coined distinctive stems with
    industry words and legal forms; duplicates vary the legal form (or drop it), abbreviate
    words (Technologies ~ Tech, International ~ Intl), drop a word, add a typo, ``The``, case
    changes and punctuation noise (``* ACME CORP., INC.``). Hard negatives: a share of the
    organisations reuse another's stem with other industry words (Meridian Foods vs Meridian
    Logistics), and all share common words (Group, Services).

    Args:
        n_orgs: Organisations.
        seed: Random seed (different seeds give different stems: held-out lists).
        dup_rate: Chance that an organisation has 1 to 4 more records.
        with_fields: Add ``city``, ``domain`` and ``phone`` columns (some left blank).

    Returns:
        Columns ``record_id``, ``company`` (and the extra fields), then ``entity_id``.
    """
    r = random.Random(seed * 7919 + 17)
    stems: list[str] = []
    rows: list[dict[str, str | None]] = []
    for e in range(n_orgs):
        if stems and r.random() < 0.2:
            stem = r.choice(stems)
        else:
            stem = _coined(r)
            if r.random() < 0.3:
                stem += " " + _coined(r)
            stems.append(stem)
        words = r.sample(_ORG_WORDS, k=r.choice((1, 1, 2, 2, 3)))
        form = r.randrange(len(_ORG_FORMS))
        city = r.choice(_REGISTER_CITIES)
        domain = _slug(stem) + r.choice((".com", ".io", ".net", ".de"))
        phone = f"+1 {r.randrange(200, 999)} {r.randrange(200, 999)} {r.randrange(1000, 9999)}"
        copies = 1 + (r.randint(1, 4) if r.random() < dup_rate else 0)
        rows.extend({
            "company": _render_org(stem, words, form, r, dup=k > 0),
            "city": city if r.random() < 0.8 else None,
            "domain": domain if r.random() < 0.6 else None,
            "phone": phone if r.random() < 0.6 else None,
            "entity_id": f"O{e:06d}",
        } for k in range(copies))
    r.shuffle(rows)
    names = ["record_id", "company", *(("city", "domain", "phone") if with_fields else ()),
             TRUTH_COLUMN]
    cols: dict[str, list[str | None]] = {c: [] for c in names}
    for k, row in enumerate(rows):
        cols["record_id"].append(f"A{k:07d}")
        for c in names[1:]:
            cols[c].append(row["entity_id"] if c == TRUTH_COLUMN else row[c])
    return Table(cols)

def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python benchmarks/synth.py N --seed S --out PATH`` (CSV or Parquet)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of records")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dup-rate", type=float, default=0.3)
    parser.add_argument("--out", required=True, help="output path (.csv or .parquet)")
    parser.add_argument("--annotate", action="store_true", help="add the 'variants' column")
    parser.add_argument("--json", help="also write the timings as JSON to this path")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    table = generate_contacts(args.n, args.seed, dup_rate=args.dup_rate, annotate=args.annotate)
    t1 = time.perf_counter()
    write_table(table, Path(args.out))
    t2 = time.perf_counter()
    entities = len(set(table.column(TRUTH_COLUMN)))
    print(
        f"{table.n_rows} records, {entities} entities -> {args.out} "
        f"(generate {t1 - t0:.1f}s, write {t2 - t1:.1f}s)"
    )
    if args.json:
        figures = {
            "benchmark": "synth.generate_contacts", "records": table.n_rows,
            "entities": entities, "seed": args.seed, "dup_rate": args.dup_rate,
            "output": Path(args.out).suffix.lstrip("."),
            "generate_s": round(t1 - t0, 2), "write_s": round(t2 - t1, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
